//! A complete custom server on sockit-net: every line a client sends comes
//! back upper-cased, with connection limits and graceful Ctrl-C.
//!
//! Run: `cargo run -p sockit-net --example upper`, then `nc 127.0.0.1 <port>`.

use futures::{SinkExt, StreamExt};
use sockit_net::codec::{Line, LineCodec};
use sockit_net::{announce, bind_tcp, Limits, Shutdown, StreamServer};
use tokio_util::codec::Framed;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let shutdown = Shutdown::new();
    shutdown.trigger_on_signals();
    let listener = bind_tcp("127.0.0.1:0".parse()?, "--port")?;
    announce("tcp", &listener.local_addr()?);
    let server = StreamServer::new(listener, Limits::default(), shutdown.clone());
    server
        .run(|stream, _conn| async move {
            let mut lines = Framed::new(stream, LineCodec::new(1024));
            while let Some(Ok(line)) = lines.next().await {
                let reply = match line {
                    Line::Text(t) => String::from_utf8_lossy(&t).to_uppercase(),
                    Line::TooLong => "error: line too long".to_string(),
                };
                if lines.send(reply).await.is_err() {
                    break;
                }
            }
        })
        .await;
    Ok(())
}
