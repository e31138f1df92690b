//! A real ARP request on one of this host's interfaces (`arp-table --iface
//! IF --resolve IP`): an Ethernet broadcast built with pnet and sent on a
//! packet socket (CAP_NET_RAW on the host).

use std::net::Ipv4Addr;

use crate::error::{Error, Result};
use crate::narrate::tx;

/// Broadcast "who has `target`? tell `src_ip`" on `nic`.
pub fn send_request(
    nic: &pnet_datalink::NetworkInterface,
    src_ip: Ipv4Addr,
    target: Ipv4Addr,
) -> Result<()> {
    use pnet_datalink::MacAddr;
    use pnet_packet::arp::{ArpHardwareTypes, ArpOperations, MutableArpPacket};
    use pnet_packet::ethernet::{EtherTypes, MutableEthernetPacket};
    let mac = nic.mac.ok_or_else(|| {
        Error::usage(tx(
            format!("interface {} has no MAC address", nic.name),
            format!("接口 {} 没有 MAC 地址", nic.name),
        ))
    })?;
    let mut buf = [0u8; 42];
    {
        let mut eth = MutableEthernetPacket::new(&mut buf).expect("42 bytes");
        eth.set_destination(MacAddr::broadcast());
        eth.set_source(mac);
        eth.set_ethertype(EtherTypes::Arp);
    }
    {
        let mut arp = MutableArpPacket::new(&mut buf[14..]).expect("28 bytes");
        arp.set_hardware_type(ArpHardwareTypes::Ethernet);
        arp.set_protocol_type(EtherTypes::Ipv4);
        arp.set_hw_addr_len(6);
        arp.set_proto_addr_len(4);
        arp.set_operation(ArpOperations::Request);
        arp.set_sender_hw_addr(mac);
        arp.set_sender_proto_addr(src_ip);
        arp.set_target_hw_addr(MacAddr::zero());
        arp.set_target_proto_addr(target);
    }
    match pnet_datalink::channel(nic, Default::default()) {
        Ok(pnet_datalink::Channel::Ethernet(mut tx, _)) => tx
            .send_to(&buf, None)
            .unwrap_or(Ok(()))
            .map_err(|e| Error::Socket {
                op: "send ARP on",
                addr: nic.name.clone(),
                source: e,
            }),
        Ok(_) => Err(Error::Internal("pnet gave a non-Ethernet channel".into())),
        Err(e) => Err(Error::Socket {
            op: "open packet socket on",
            addr: nic.name.clone(),
            source: e,
        }),
    }
}
