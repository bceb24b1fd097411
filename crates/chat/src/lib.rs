//! sockit-chat: a chat room that TCP, UDP and browser (WebSocket) members share.
//!
//! Data flows one way: a listener ([`server`]) hands each connection to a
//! [`transport`] ([`transport::tcp`], [`transport::tls`], [`transport::udp`],
//! [`transport::ws`]), which reads a line and hands
//! it to the member's [`session::Session`], which parses it ([`command`]),
//! then publishes it to the room through the writer shards ([`fanout`]) or
//! asks the registry ([`hub`]) to change membership. Every message is stored
//! by the [`history`] writer thread. Each event is rendered at most once per
//! format ([`event`]); a shard copies those bytes into its members' send
//! queues and writes each queue with one syscall. The shared handle is
//! [`service::Chat`], its settings [`config::ChatConfig`]. With `--redis`,
//! several nodes share rooms through Redis ([`cluster`]): room events are
//! numbered and kept there and each node fans them out to its own members.
//! Wire formats: docs/protocol.md.
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

pub mod cluster;
pub mod command;
pub mod config;
pub mod event;
pub mod fanout;
pub mod history;
pub mod hub;
pub mod notice;
pub mod retention;
pub mod room_bus;
pub mod server;
pub mod service;
pub mod session;
pub mod text;
pub mod transport;
pub mod wire;

pub use config::ChatConfig;
pub use event::{ClientLine, Event, Format, Kind};
pub use history::{Retention, Store};
pub use service::Chat;
