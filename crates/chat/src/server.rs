//! The chat listeners: TCP, TLS, web (plain or https), IRC (plain or TLS) and UDP, each handing
//! its connections or datagrams to a [`crate::transport`] with the member
//! limits of [`Chat`].

use std::sync::Arc;

use sockit_net::tls::ServerTls;
use sockit_net::{Shutdown, StreamServer};
use tokio::net::{TcpListener, UdpSocket};

use crate::service::Chat;

impl Chat {
    /// Serves TCP members until shutdown.
    pub async fn serve_tcp(self, listener: TcpListener, shutdown: Shutdown) {
        let limits = self.member_limits();
        StreamServer::new(listener, limits, shutdown)
            .refusal_text(|r| format!("! {r}\n").into_bytes())
            .run(move |stream, info| crate::transport::tcp::serve_connection(self.clone(), stream, info))
            .await;
    }

    /// Serves the web listener until shutdown: the chat page at `/`,
    /// WebSocket members at `/ws` (connections count against
    /// `max_members` and `max_per_ip` like TCP members).
    pub async fn serve_web(self, listener: TcpListener, shutdown: Shutdown) {
        let limits = self.member_limits();
        StreamServer::new(listener, limits, shutdown)
            .refusal_text(|r| {
                let body = format!("{r}\n");
                format!(
                    "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
                .into_bytes()
            })
            .run(move |stream, info| crate::transport::ws::serve_connection(self.clone(), stream, info))
            .await;
    }

    /// Serves TLS line members until shutdown ([`crate::transport::tls`]): the same
    /// members as on TCP, after a handshake bounded by `tls`'s timeout.
    pub async fn serve_tls(self, listener: TcpListener, tls: ServerTls, shutdown: Shutdown) {
        let limits = self.member_limits();
        // A refusal in plaintext would only confuse a TLS client: just close.
        StreamServer::new(listener, limits, shutdown)
            .refusal_text(|_| Vec::new())
            .run(move |stream, info| crate::transport::tls::serve_connection(self.clone(), stream, info, tls.clone()))
            .await;
    }

    /// [`serve_web`](Self::serve_web) over https: the page and `wss://`
    /// members, each connection's handshake bounded by `tls`'s timeout.
    pub async fn serve_web_tls(self, listener: TcpListener, tls: ServerTls, shutdown: Shutdown) {
        let limits = self.member_limits();
        StreamServer::new(listener, limits, shutdown)
            .refusal_text(|_| Vec::new())
            .run(move |stream, info| {
                crate::transport::ws::serve_tls_connection(self.clone(), stream, info, tls.clone())
            })
            .await;
    }

    /// Serves IRC members until shutdown ([`crate::transport::irc`]).
    pub async fn serve_irc(self, listener: TcpListener, shutdown: Shutdown) {
        let limits = self.member_limits();
        StreamServer::new(listener, limits, shutdown)
            .refusal_text(|r| format!("ERROR :Closing Link: {r}\r\n").into_bytes())
            .run(move |stream, info| crate::transport::irc::conn::serve_connection(self.clone(), stream, info))
            .await;
    }

    /// Serves IRC members over TLS until shutdown.
    pub async fn serve_irc_tls(self, listener: TcpListener, tls: ServerTls, shutdown: Shutdown) {
        let limits = self.member_limits();
        StreamServer::new(listener, limits, shutdown)
            .refusal_text(|_| Vec::new())
            .run(move |stream, info| {
                crate::transport::irc::conn::serve_tls_connection(self.clone(), stream, info, tls.clone())
            })
            .await;
    }

    /// Serves UDP members until shutdown.
    pub async fn serve_udp(self, socket: UdpSocket, shutdown: Shutdown) {
        crate::transport::udp::serve(self, Arc::new(socket), shutdown).await;
    }
}
