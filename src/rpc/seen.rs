//! What the capture shows: each captured segment with the application
//! messages it carried and their fields, read from the TCP stream of its
//! connection (netlab's RPC frames on its two RPC ports, HTTP/2 on the gRPC
//! port).

use std::collections::BTreeMap;

use super::{grpc, DEDUP_PORT, GRPC_PORT, PLAIN_PORT};
use crate::lab::capture::Frame;
use crate::record::FieldView;
use crate::wire::frame::{self, Kind};
use crate::wire::http2::{Item, Reader};
use crate::wire::rpc::{self, Message};
use crate::wire::segments;

/// One captured segment, read.
#[derive(Clone, Debug)]
pub struct Seen {
    /// The frame as captured.
    pub frame: Frame,
    /// The client sent it (else the server).
    pub from_client: bool,
    /// The server's port on its connection.
    pub server_port: u16,
    /// The client's port.
    pub client_port: u16,
    /// TCP flag bits.
    pub flags: u8,
    /// TCP payload bytes.
    pub payload: usize,
    /// netlab RPC frames that start in this segment.
    pub rpc: Vec<Message>,
    /// HTTP/2 frames (and the preface) that start in it.
    pub h2: Vec<Item>,
    /// The application's fields on this frame's bytes.
    pub fields: Vec<FieldView>,
}

/// Every TCP frame of the run's servers in `frames` (wire order), read.
pub fn read(frames: &[Frame]) -> Vec<Seen> {
    let servers = [PLAIN_PORT, DEDUP_PORT, GRPC_PORT];
    let mut out: Vec<Seen> = Vec::new();
    for f in frames {
        let Ok(d) = frame::ethernet_frame(&f.bytes) else {
            continue;
        };
        let Kind::Ipv4 {
            tcp: Some(h),
            payload_len,
            ..
        } = d.kind
        else {
            continue;
        };
        let (from_client, server_port, client_port) = if servers.contains(&h.dst_port) {
            (true, h.dst_port, h.src_port)
        } else if servers.contains(&h.src_port) {
            (false, h.src_port, h.dst_port)
        } else {
            continue;
        };
        out.push(Seen {
            frame: f.clone(),
            from_client,
            server_port,
            client_port,
            flags: h.flags,
            payload: payload_len,
            rpc: Vec::new(),
            h2: Vec::new(),
            fields: Vec::new(),
        });
    }
    // Each connection's two streams.
    let mut conns: BTreeMap<(u16, u16), Vec<usize>> = BTreeMap::new();
    for (i, s) in out.iter().enumerate() {
        conns
            .entry((s.server_port, s.client_port))
            .or_default()
            .push(i);
    }
    for ((server, client), idx) in conns {
        for from_client in [true, false] {
            let bytes: Vec<&[u8]> = idx.iter().map(|&i| out[i].frame.bytes.as_slice()).collect();
            let flow = segments::flow(&bytes, if from_client { client } else { server });
            let at = |pos: usize| flow.piece_at(pos).map(|p| idx[p.frame]);
            let mut fields = Vec::new();
            if server == GRPC_PORT {
                let names = if from_client {
                    grpc::request_names()
                } else {
                    grpc::reply_names()
                };
                if let Ok((items, f)) = Reader::new(from_client, names).read(&flow.bytes) {
                    for item in items {
                        if let Some(i) = at(item.range.start) {
                            out[i].h2.push(item);
                        }
                    }
                    fields = f;
                }
            } else {
                for (range, m) in rpc::frames(&flow.bytes) {
                    let (Ok(m), Ok(f)) = (m, rpc::explain(&flow.bytes[range.clone()], range.start))
                    else {
                        continue;
                    };
                    if let Some(i) = at(range.start) {
                        out[i].rpc.push(m);
                    }
                    fields.extend(f);
                }
            }
            for (k, f) in flow.place(&fields) {
                out[idx[k]].fields.extend(f);
            }
        }
    }
    out
}
