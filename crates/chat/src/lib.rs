//! sockit-chat: a chat room that TCP, UDP and browser (WebSocket) members share.
//!
//! Data flows one way: a transport ([`tcp`], [`tls`], [`udp`], [`ws`]) reads a line and hands
//! it to the member's [`session::Session`], which parses it ([`command`]),
//! then publishes it to the room through the writer shards ([`fanout`]) or
//! asks the registry ([`hub`]) to change membership. Every message is stored
//! by the [`history`] writer thread. Each event is rendered at most once per
//! format ([`event`]); a shard copies those bytes into its members' send
//! queues and writes each queue with one syscall. Wire formats:
//! docs/protocol.md.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use sockit_chat::{Chat, ChatConfig};
//! let shutdown = sockit_net::Shutdown::new();
//! let chat = Chat::start(ChatConfig::default(), &shutdown)?;
//! let listener = sockit_net::bind_tcp("127.0.0.1:9001".parse()?, "--port")?;
//! shutdown.spawn(chat.serve_tcp(listener, shutdown.clone()));
//! # Ok(()) }
//! ```

pub mod command;
pub mod event;
pub mod fanout;
pub mod history;
pub mod hub;
pub mod retention;
pub mod server;
pub mod session;
pub mod tcp;
pub mod text;
pub mod tls;
pub mod udp;
pub mod wire;
pub mod ws;

pub use event::{ClientLine, Event, Format, Kind};
pub use history::{Retention, Store};
pub use server::{Chat, ChatConfig};
