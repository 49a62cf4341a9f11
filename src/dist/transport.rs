//! Where distribution connections meet the network: the `-proto_dist`
//! module, the address family it implies, the listen socket, host
//! resolution and dialling — mirrors `lib/kernel/src/inet_tcp_dist.erl`
//! (`gen_listen/3`, `listen_options/0`, `gen_select/2`) and
//! `inet6_tcp_dist.erl`, which is the same code over `inet6_tcp`.
//!
//! Everything that depends on the address family is here, so that another
//! carrier (TLS over either family) reuses it: [`ProtoDist::family`] says
//! which family a `-proto_dist` value uses, [`listen`] binds the listener
//! (`inet_dist_use_interface`, `inet_dist_listen_min/max`,
//! `inet_dist_listen_options`), [`resolve`] finds a peer host's address of
//! that family (and so its EPMD), [`Family::local_epmd`] is the EPMD a node
//! registers with (`erl_epmd:register_node/3`: `127.0.0.1` or `::1`).

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

/// A `-proto_dist` value distro supports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum ProtoDist {
    /// `inet_tcp` (the default): TCP over IPv4.
    #[default]
    InetTcp,
    /// `inet6_tcp`: TCP over IPv6.
    Inet6Tcp,
    /// `inet_tls`: TLS over TCP over IPv4 (`inet_tls_dist`).
    InetTls,
    /// `inet6_tls`: TLS over TCP over IPv6 (`inet6_tls_dist`).
    Inet6Tls,
}

/// A `-proto_dist` value distro does not support.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "-proto_dist {0} is not supported (distro speaks inet_tcp, inet6_tcp, inet_tls and inet6_tls)"
)]
pub struct UnsupportedProtoDist(pub String);

impl ProtoDist {
    /// The value of `-proto_dist` (`inet_tcp`, `inet6_tcp`; erl appends
    /// `_dist` to find the module, so `inet_tcp_dist` is not a value).
    pub fn parse(name: &str) -> Result<Self, UnsupportedProtoDist> {
        match name {
            "inet_tcp" => Ok(Self::InetTcp),
            "inet6_tcp" => Ok(Self::Inet6Tcp),
            "inet_tls" => Ok(Self::InetTls),
            "inet6_tls" => Ok(Self::Inet6Tls),
            other => Err(UnsupportedProtoDist(other.to_owned())),
        }
    }

    /// Its name, as given to `-proto_dist`.
    pub fn name(self) -> &'static str {
        match self {
            Self::InetTcp => "inet_tcp",
            Self::Inet6Tcp => "inet6_tcp",
            Self::InetTls => "inet_tls",
            Self::Inet6Tls => "inet6_tls",
        }
    }

    /// The address family its sockets use.
    pub fn family(self) -> Family {
        match self {
            Self::InetTcp | Self::InetTls => Family::Inet,
            Self::Inet6Tcp | Self::Inet6Tls => Family::Inet6,
        }
    }

    /// Whether connections run TLS (`inet_tls`, `inet6_tls`).
    pub fn is_tls(self) -> bool {
        matches!(self, Self::InetTls | Self::Inet6Tls)
    }
}

/// An address family (`inet` or `inet6`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// IPv4.
    Inet,
    /// IPv6.
    Inet6,
}

impl Family {
    /// `0.0.0.0` or `::`.
    pub fn any(self) -> IpAddr {
        match self {
            Self::Inet => Ipv4Addr::UNSPECIFIED.into(),
            Self::Inet6 => Ipv6Addr::UNSPECIFIED.into(),
        }
    }

    /// `127.0.0.1` or `::1`.
    pub fn loopback(self) -> IpAddr {
        match self {
            Self::Inet => Ipv4Addr::LOCALHOST.into(),
            Self::Inet6 => Ipv6Addr::LOCALHOST.into(),
        }
    }

    /// Whether `ip` is of this family.
    pub fn holds(self, ip: IpAddr) -> bool {
        matches!(
            (self, ip),
            (Self::Inet, IpAddr::V4(_)) | (Self::Inet6, IpAddr::V6(_))
        )
    }

    /// The EPMD a node of this family registers with: this host's at
    /// `127.0.0.1` or `::1` (`erl_epmd:do_register_node/3`).
    pub fn local_epmd(self, port: u16) -> SocketAddr {
        SocketAddr::new(self.loopback(), port)
    }

    /// `inet` or `inet6`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Inet => "inet",
            Self::Inet6 => "inet6",
        }
    }
}

/// The listen options distro applies from `inet_dist_listen_options`
/// (`{backlog, N}`, `{reuseaddr, Bool}`, `{ipv6_v6only, Bool}`,
/// `{ip, Addr}`); the defaults are `inet_tcp_dist`'s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenOptions {
    /// `{backlog, N}` (default 128).
    pub backlog: u32,
    /// `{reuseaddr, Bool}` (default `true`).
    pub reuseaddr: bool,
    /// `{ipv6_v6only, Bool}` (default: the OS's).
    pub ipv6_v6only: Option<bool>,
    /// `{ip, Addr}`: the address to bind, unless `inet_dist_use_interface`
    /// (which `inet_tcp_dist` forces over it) is set.
    pub ip: Option<IpAddr>,
}

impl Default for ListenOptions {
    fn default() -> Self {
        Self {
            backlog: 128,
            reuseaddr: true,
            ipv6_v6only: None,
            ip: None,
        }
    }
}

/// Why the listener could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    /// The interface is not of the distribution's family.
    #[error("{ip} is not an {} address (-proto_dist {})", .proto.family().name(), .proto.name())]
    WrongFamily {
        /// The address.
        ip: IpAddr,
        /// The distribution.
        proto: ProtoDist,
    },
    /// No port in the range could be bound.
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// Opens the distribution listener: on `interface` (or any address of the
/// family), the first free port of `ports` (`(0, 0)`: any), with `opts`.
pub async fn listen(
    proto: ProtoDist,
    interface: Option<IpAddr>,
    ports: (u16, u16),
    opts: &ListenOptions,
) -> Result<TcpListener, ListenError> {
    let ip = interface
        .or(opts.ip)
        .unwrap_or_else(|| proto.family().any());
    if !proto.family().holds(ip) {
        return Err(ListenError::WrongFamily { ip, proto });
    }
    let (min, max) = ports;
    let mut last = io::Error::new(io::ErrorKind::AddrInUse, "empty port range");
    for port in min..=max.max(min) {
        match bind(SocketAddr::new(ip, port), opts) {
            Ok(l) => return Ok(l),
            Err(e) => last = e,
        }
    }
    Err(last.into())
}

fn bind(addr: SocketAddr, opts: &ListenOptions) -> io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(opts.reuseaddr)?;
    if let (SocketAddr::V6(_), Some(only)) = (addr, opts.ipv6_v6only) {
        set_v6only(&socket, only)?;
    }
    socket.bind(addr)?;
    socket.listen(opts.backlog)
}

fn set_v6only(socket: &TcpSocket, on: bool) -> io::Result<()> {
    use std::os::fd::AsRawFd as _;
    let value: libc::c_int = on.into();
    // SAFETY: a valid socket descriptor and a c_int option value of the
    // size passed.
    let r = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_IPV6,
            libc::IPV6_V6ONLY,
            (&raw const value).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The address of `host` in `family`: an IP literal of that family as is,
/// else the first address the resolver gives of that family
/// (`inet:getaddr/2`, which `inet_tcp_dist` and `inet6_tcp_dist` use).
pub async fn resolve(host: &str, family: Family) -> io::Result<IpAddr> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return if family.holds(ip) {
            Ok(ip)
        } else {
            Err(io::Error::other(format!(
                "{host} is not an {} address",
                family.name()
            )))
        };
    }
    tokio::net::lookup_host((host, 0))
        .await?
        .map(|a| a.ip())
        .find(|ip| family.holds(*ip))
        .ok_or_else(|| {
            io::Error::other(format!(
                "cannot resolve host {host} to an {} address",
                family.name()
            ))
        })
}

/// Connects to a peer's distribution port, with Nagle off.
pub async fn dial(addr: SocketAddr) -> io::Result<TcpStream> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proto_dist_values() {
        assert_eq!(ProtoDist::parse("inet_tcp"), Ok(ProtoDist::InetTcp));
        assert_eq!(ProtoDist::parse("inet6_tcp"), Ok(ProtoDist::Inet6Tcp));
        assert_eq!(ProtoDist::parse("inet_tls"), Ok(ProtoDist::InetTls));
        assert_eq!(ProtoDist::parse("inet6_tls"), Ok(ProtoDist::Inet6Tls));
        assert!(ProtoDist::Inet6Tls.is_tls() && !ProtoDist::Inet6Tcp.is_tls());
        assert_eq!(ProtoDist::Inet6Tls.family(), Family::Inet6);
        assert_eq!(
            ProtoDist::parse("inet6_sctp").unwrap_err().to_string(),
            "-proto_dist inet6_sctp is not supported (distro speaks inet_tcp, inet6_tcp, inet_tls and inet6_tls)"
        );
        assert_eq!(
            ProtoDist::Inet6Tcp.family().local_epmd(4369).to_string(),
            "[::1]:4369"
        );
    }

    #[tokio::test]
    async fn resolves_by_family() {
        assert_eq!(
            resolve("::1", Family::Inet6).await.unwrap(),
            IpAddr::from(Ipv6Addr::LOCALHOST)
        );
        assert!(resolve("::1", Family::Inet).await.is_err());
        assert_eq!(
            resolve("127.0.0.1", Family::Inet).await.unwrap(),
            IpAddr::from(Ipv4Addr::LOCALHOST)
        );
    }

    #[tokio::test]
    async fn listens_on_the_family_and_range() {
        let opts = ListenOptions::default();
        let l = listen(
            ProtoDist::Inet6Tcp,
            Some(Family::Inet6.loopback()),
            (0, 0),
            &opts,
        )
        .await
        .unwrap();
        assert!(l.local_addr().unwrap().is_ipv6());
        let e = listen(
            ProtoDist::Inet6Tcp,
            Some(Family::Inet.loopback()),
            (0, 0),
            &opts,
        )
        .await
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "127.0.0.1 is not an inet6 address (-proto_dist inet6_tcp)"
        );
        let taken = l.local_addr().unwrap().port();
        let v6only = ListenOptions {
            ipv6_v6only: Some(true),
            ..opts
        };
        // The first port of the range is taken: the next one is used.
        if let Ok(l2) = listen(
            ProtoDist::Inet6Tcp,
            Some(Family::Inet6.loopback()),
            (taken, taken.saturating_add(1)),
            &v6only,
        )
        .await
        {
            assert_eq!(l2.local_addr().unwrap().port(), taken + 1);
        }
    }
}
