//! TEMPORARY minimal EPMD client, replaced by `crate::epmd` when it lands.

use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub(crate) struct Registration {
    _stream: TcpStream,
    pub(crate) creation: u32,
}

pub(crate) async fn register(
    epmd: SocketAddr,
    name: &str,
    port: u16,
    hidden: bool,
) -> std::io::Result<Registration> {
    let mut s = TcpStream::connect(epmd).await?;
    let mut req = vec![120];
    req.extend_from_slice(&port.to_be_bytes());
    req.push(if hidden { 72 } else { 77 });
    req.push(0);
    req.extend_from_slice(&6u16.to_be_bytes());
    req.extend_from_slice(&6u16.to_be_bytes());
    req.extend_from_slice(&(name.len() as u16).to_be_bytes());
    req.extend_from_slice(name.as_bytes());
    req.extend_from_slice(&0u16.to_be_bytes());
    let mut msg = (req.len() as u16).to_be_bytes().to_vec();
    msg.extend_from_slice(&req);
    s.write_all(&msg).await?;
    let tag = s.read_u8().await?;
    let result = s.read_u8().await?;
    if result != 0 {
        return Err(std::io::Error::other(format!(
            "the name {name} seems to be in use by another Erlang node"
        )));
    }
    let creation = match tag {
        118 => s.read_u32().await?,
        121 => u32::from(s.read_u16().await?),
        t => {
            return Err(std::io::Error::other(format!(
                "unexpected EPMD response {t}"
            )));
        }
    };
    Ok(Registration {
        _stream: s,
        creation,
    })
}

pub(crate) async fn port_please(epmd: SocketAddr, name: &str) -> std::io::Result<Option<u16>> {
    let mut s = TcpStream::connect(epmd).await?;
    let mut msg = ((name.len() + 1) as u16).to_be_bytes().to_vec();
    msg.push(122);
    msg.extend_from_slice(name.as_bytes());
    s.write_all(&msg).await?;
    let _tag = s.read_u8().await?;
    if s.read_u8().await? != 0 {
        return Ok(None);
    }
    Ok(Some(s.read_u16().await?))
}
