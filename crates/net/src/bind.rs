//! Opening listening sockets with the options a server wants and errors a
//! person can act on (`port 8080 is in use — pick another with --port`).

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::{TcpListener, UdpSocket, UnixListener};

/// Pending-connection queue length asked of the kernel (it caps it at
/// `net.core.somaxconn`). Large, because bursts of thousands of connects are
/// normal for a load test and a short queue turns them into SYN retries.
const BACKLOG: i32 = 4096;

/// Socket buffer asked for UDP services, so bursts are queued, not dropped.
const UDP_BUFFER: usize = 4 << 20;

/// Why a listener could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    /// Another process holds the port.
    #[error("port {port} is in use on {ip} — pick another with {flag}")]
    InUse {
        /// The IP we tried.
        ip: std::net::IpAddr,
        /// The port that is taken.
        port: u16,
        /// The command-line flag that changes it.
        flag: String,
    },
    /// Ports below 1024 need privileges; some addresses are not ours.
    #[error("not allowed to listen on {addr} ({source}) — ports below 1024 need root; pick another with {flag}")]
    Denied {
        /// The address we tried.
        addr: SocketAddr,
        /// The command-line flag that changes it.
        flag: String,
        /// The OS error.
        source: io::Error,
    },
    /// The address is not one of this machine's.
    #[error("{addr} is not an address of this machine — use --bind with 127.0.0.1, 0.0.0.0, :: or a local IP")]
    NotLocal {
        /// The address we tried.
        addr: SocketAddr,
    },
    /// A Unix socket path that exists and is not a stale socket.
    #[error("cannot listen on unix socket {path}: {source}")]
    Unix {
        /// The path we tried.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// Anything else the OS said.
    #[error("cannot listen on {addr}: {source}")]
    Other {
        /// The address we tried.
        addr: SocketAddr,
        /// The OS error.
        source: io::Error,
    },
}

impl BindError {
    fn from_io(addr: SocketAddr, flag: &str, e: io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::AddrInUse => BindError::InUse { ip: addr.ip(), port: addr.port(), flag: flag.into() },
            io::ErrorKind::PermissionDenied => BindError::Denied { addr, flag: flag.into(), source: e },
            io::ErrorKind::AddrNotAvailable => BindError::NotLocal { addr },
            _ => BindError::Other { addr, source: e },
        }
    }
}

fn socket_for(addr: SocketAddr, ty: Type, proto: Protocol) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), ty, Some(proto))?;
    // SO_REUSEADDR lets a restarted server take its port back while old
    // connections sit in TIME_WAIT.
    socket.set_reuse_address(true)?;
    if addr.is_ipv6() && addr.ip().is_unspecified() {
        // `--bind ::` means every interface, IPv4 included.
        socket.set_only_v6(false)?;
    }
    socket.set_nonblocking(true)?;
    Ok(socket)
}

/// Opens a TCP listener on `addr`. `flag` names the option that changes the
/// port, for the error message. Must be called inside a tokio runtime.
pub fn bind_tcp(addr: SocketAddr, flag: &str) -> Result<TcpListener, BindError> {
    let open = || -> io::Result<TcpListener> {
        let socket = socket_for(addr, Type::STREAM, Protocol::TCP)?;
        socket.set_tcp_nodelay(true)?;
        socket.bind(&addr.into())?;
        socket.listen(BACKLOG)?;
        TcpListener::from_std(socket.into())
    };
    open().map_err(|e| BindError::from_io(addr, flag, e))
}

/// Opens a UDP socket on `addr` with a large receive buffer.
pub fn bind_udp(addr: SocketAddr, flag: &str) -> Result<UdpSocket, BindError> {
    let open = || -> io::Result<UdpSocket> {
        let socket = socket_for(addr, Type::DGRAM, Protocol::UDP)?;
        // Best effort: the kernel clamps to rmem_max and that is fine.
        let _ = socket.set_recv_buffer_size(UDP_BUFFER);
        let _ = socket.set_send_buffer_size(UDP_BUFFER);
        socket.bind(&addr.into())?;
        UdpSocket::from_std(socket.into())
    };
    open().map_err(|e| BindError::from_io(addr, flag, e))
}

/// Opens a Unix stream listener at `path`, replacing a stale socket file left
/// by a previous run but never any other kind of file.
pub fn bind_unix(path: &Path) -> Result<UnixListener, BindError> {
    let err = |source| BindError::Unix { path: path.to_path_buf(), source };
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        use std::os::unix::fs::FileTypeExt;
        if !meta.file_type().is_socket() {
            return Err(err(io::Error::new(io::ErrorKind::AlreadyExists, "a file that is not a socket is in the way")));
        }
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(err(io::Error::new(io::ErrorKind::AddrInUse, "another server is listening there")));
        }
        std::fs::remove_file(path).map_err(err)?;
    }
    UnixListener::bind(path).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn in_use_names_port_and_flag() {
        let first = bind_tcp("127.0.0.1:0".parse().unwrap(), "--port").unwrap();
        let addr = first.local_addr().unwrap();
        // SO_REUSEADDR does not let two listeners share a port on Linux.
        let err = bind_tcp(addr, "--port").unwrap_err().to_string();
        assert_eq!(err, format!("port {} is in use on 127.0.0.1 — pick another with --port", addr.port()));
    }

    #[tokio::test]
    async fn unix_refuses_regular_file() {
        let dir = std::env::temp_dir().join(format!("sockit-bind-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("plain");
        std::fs::write(&file, b"x").unwrap();
        assert!(bind_unix(&file).is_err());
        assert!(file.exists());
        let sock = dir.join("s.sock");
        drop(bind_unix(&sock).unwrap());
        // A stale socket from a dead server is replaced.
        assert!(bind_unix(&sock).is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
