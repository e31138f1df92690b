//! VRRP advertisements (RFC 5798, version 3; version 2 of RFC 3768 read
//! too), the IP payload of protocol 112 sent to 224.0.0.18 with TTL 255.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Version| Type  | Virtual Rtr ID|   Priority    |Count IPvX Addr|
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |(rsvd) |     Max Adver Int     |          Checksum             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                       IPvX Address(es)                        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! Version 3 counts the interval in centiseconds (12 bits) and checksums the
//! message together with the IPv4 pseudo-header (source, destination, zero,
//! protocol 112, length), as UDP does. Version 2 has an authentication type
//! and a one-byte interval in seconds where v3 has the interval, checksums
//! the message alone, and carries 8 bytes of authentication data after the
//! addresses. The checksums are computed by pnet_packet; this file owns the
//! explanation and the one builder netlab's own speaker sends with.

use std::net::Ipv4Addr;

use pnet_packet::ip::IpNextHeaderProtocol;

use super::{fv, shift, WireError};
use crate::record::FieldView;
use crate::text::{tx, Text};

/// Byte ranges inside the advertisement.
pub mod field {
    use std::ops::Range;
    /// Version (high nibble) and type (low nibble).
    pub const VER_TYPE: Range<usize> = 0..1;
    /// Virtual router id.
    pub const VRID: Range<usize> = 1..2;
    /// Priority of the sender (255 owns the address, 0 is leaving).
    pub const PRIORITY: Range<usize> = 2..3;
    /// Number of addresses that follow.
    pub const COUNT: Range<usize> = 3..4;
    /// v3: 4 reserved bits and the 12-bit interval in centiseconds; v2:
    /// authentication type, then the interval in seconds.
    pub const INTERVAL: Range<usize> = 4..6;
    /// Checksum.
    pub const CHECKSUM: Range<usize> = 6..8;
    /// The first address.
    pub const ADDRS: usize = 8;
}

/// The fixed part's length.
pub const HEADER_LEN: usize = 8;
/// IP protocol number of VRRP.
pub const PROTOCOL: u8 = 112;
/// The group every advert goes to.
pub const GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// The TTL every advert must carry: a receiver drops any other, so an
/// advert cannot come from beyond the link.
pub const TTL: u8 = 255;
/// Length of v2's authentication data after the addresses.
const V2_AUTH_LEN: usize = 8;

/// An advertisement, decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Advert {
    /// 2 or 3.
    pub version: u8,
    /// 1 = advertisement (the only type).
    pub kind: u8,
    /// Virtual router id (1 to 255).
    pub vrid: u8,
    /// Priority: 255 the address owner, 1 to 254 a backup, 0 the master leaving.
    pub priority: u8,
    /// The interval the sender advertises at, in centiseconds (v2's
    /// seconds converted).
    pub interval_cs: u16,
    /// The checksum as sent.
    pub checksum: u16,
    /// Whether the checksum is right (over the pseudo-header for v3).
    pub checksum_ok: bool,
    /// The virtual addresses.
    pub addrs: Vec<Ipv4Addr>,
}

/// The checksum of `msg` (its own checksum field skipped) as version
/// `version` defines it, for a packet from `src` to `dst`.
pub fn checksum_of(msg: &[u8], version: u8, src: Ipv4Addr, dst: Ipv4Addr) -> u16 {
    // Word 3 is the checksum field itself.
    if version == 3 {
        pnet_packet::util::ipv4_checksum(msg, 3, &[], &src, &dst, IpNextHeaderProtocol(PROTOCOL))
    } else {
        pnet_packet::util::checksum(msg, 3)
    }
}

/// Decode an advertisement sent from `src` to `dst` (for the checksum).
pub fn parse(b: &[u8], src: Ipv4Addr, dst: Ipv4Addr) -> Result<Advert, WireError> {
    let short = |need| WireError::TooShort {
        what: "VRRP advertisement",
        have: b.len(),
        need,
    };
    if b.len() < HEADER_LEN {
        return Err(short(HEADER_LEN));
    }
    let version = b[0] >> 4;
    let count = usize::from(b[3]);
    let need = HEADER_LEN + 4 * count + if version == 2 { V2_AUTH_LEN } else { 0 };
    if b.len() < need {
        return Err(short(need));
    }
    let interval_cs = if version == 2 {
        u16::from(b[5]) * 100
    } else {
        u16::from_be_bytes([b[4], b[5]]) & 0x0fff
    };
    let msg = &b[..need];
    let sent = u16::from_be_bytes([b[6], b[7]]);
    Ok(Advert {
        version,
        kind: b[0] & 0x0f,
        vrid: b[1],
        priority: b[2],
        interval_cs,
        checksum: sent,
        checksum_ok: checksum_of(msg, version, src, dst) == sent,
        addrs: (0..count)
            .map(|i| {
                let a = field::ADDRS + 4 * i;
                Ipv4Addr::new(b[a], b[a + 1], b[a + 2], b[a + 3])
            })
            .collect(),
    })
}

/// A version 3 advertisement from `src` (to [`GROUP`]), checksum included.
pub fn build(
    vrid: u8,
    priority: u8,
    interval_cs: u16,
    addrs: &[Ipv4Addr],
    src: Ipv4Addr,
) -> Vec<u8> {
    let mut b = vec![
        0x31, // version 3, type 1 (advertisement)
        vrid,
        priority,
        addrs.len() as u8,
    ];
    b.extend_from_slice(&(interval_cs & 0x0fff).to_be_bytes());
    b.extend_from_slice(&[0, 0]);
    for a in addrs {
        b.extend_from_slice(&a.octets());
    }
    let sum = checksum_of(&b, 3, src, GROUP);
    b[6..8].copy_from_slice(&sum.to_be_bytes());
    b
}

/// A priority as its meaning.
pub fn priority_text(p: u8) -> Text {
    match p {
        255 => tx("255: owns the address", "255：地址的主人"),
        0 => tx("0: the master is leaving", "0：主路由器正在退出"),
        p => tx(
            format!("{p}: higher wins the election"),
            format!("{p}：数值高者当选"),
        ),
    }
}

/// A short label for the ladder: `VRRP advert vrid 1 prio 200`.
pub fn label(a: &Advert) -> Text {
    tx(
        format!("VRRP advert vrid {} prio {}", a.vrid, a.priority),
        format!("VRRP 通告 vrid {} 优先级 {}", a.vrid, a.priority),
    )
}

/// The advertisement's fields from `src` to `dst`, ranges offset by `at`
/// (where it starts in the frame).
pub fn explain(
    b: &[u8],
    at: usize,
    src: Ipv4Addr,
    dst: Ipv4Addr,
) -> Result<Vec<FieldView>, WireError> {
    let a = parse(b, src, dst)?;
    let kind = match a.kind {
        1 => tx("1 (advertisement)", "1（通告）"),
        n => Text::from(format!("Unknown({n})")),
    };
    let mut f = vec![
        fv(
            "vrrp.ver_type",
            field::VER_TYPE,
            tx(
                format!("v{} · {}", a.version, kind.en),
                format!("v{} · {}", a.version, kind.zh),
            ),
            tx(
                "version · type: the master's \"I am alive\"",
                "版本 · 类型：主路由器的“我还活着”",
            ),
        ),
        fv(
            "vrrp.vrid",
            field::VRID,
            a.vrid.to_string(),
            tx(
                "virtual router id: which shared gateway this is about",
                "虚拟路由器编号：说的是哪个共享网关",
            ),
        ),
        fv(
            "vrrp.prio",
            field::PRIORITY,
            priority_text(a.priority),
            tx("the sender's priority", "发送方的优先级"),
        ),
        fv(
            "vrrp.addr_count",
            field::COUNT,
            a.addrs.len().to_string(),
            tx("how many virtual addresses follow", "后面跟着几个虚拟地址"),
        ),
    ];
    if a.version == 2 {
        f.push(fv(
            "vrrp.auth_type",
            4..5,
            b[4].to_string(),
            tx(
                "v2: authentication type (0 none)",
                "v2：认证类型（0 表示无）",
            ),
        ));
        f.push(fv(
            "vrrp.adver_int",
            5..6,
            tx(format!("{} s", b[5]), format!("{} 秒", b[5])),
            tx("v2: seconds between adverts", "v2：通告间隔（秒）"),
        ));
    } else {
        f.push(fv(
            "vrrp.max_adver_int",
            field::INTERVAL,
            tx(
                format!(
                    "{} cs = {} ms",
                    a.interval_cs,
                    u32::from(a.interval_cs) * 10
                ),
                format!(
                    "{} 厘秒 = {} ms",
                    a.interval_cs,
                    u32::from(a.interval_cs) * 10
                ),
            ),
            tx(
                "time between adverts; a backup waits 3 of them (plus a skew) before taking over",
                "两次通告的间隔；备用路由器等满 3 个间隔（再加一点偏移）才接管",
            ),
        ));
    }
    f.push(fv(
        "vrrp.checksum",
        field::CHECKSUM,
        if a.checksum_ok {
            tx(
                format!("0x{:04x} (correct)", a.checksum),
                format!("0x{:04x}（正确）", a.checksum),
            )
        } else {
            tx(
                format!("0x{:04x} (WRONG)", a.checksum),
                format!("0x{:04x}（错误）", a.checksum),
            )
        },
        if a.version == 3 {
            tx(
                "over the message and the IPv4 pseudo-header, as UDP",
                "覆盖报文和 IPv4 伪首部，与 UDP 相同",
            )
        } else {
            tx("over the message", "覆盖整个报文")
        },
    ));
    for (i, ip) in a.addrs.iter().enumerate() {
        let at = field::ADDRS + 4 * i;
        f.push(fv(
            "vrrp.ip_addr",
            at..at + 4,
            ip.to_string(),
            tx(
                "the virtual address: whoever is master answers for it",
                "虚拟地址：谁是主路由器谁就应答它",
            ),
        ));
    }
    if a.version == 2 {
        let at = field::ADDRS + 4 * a.addrs.len();
        f.push(fv(
            "vrrp.auth_data",
            at..at + V2_AUTH_LEN,
            super::bytes_text(V2_AUTH_LEN),
            tx("v2: authentication data", "v2：认证数据"),
        ));
    }
    Ok(shift(f, at))
}

#[cfg(test)]
mod tests {
    use super::*;

    const R1: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 66);

    /// r1's advert for VRID 1, priority 200, every second, one address.
    /// Its checksum worked out by hand: the 16-bit words of the pseudo-header
    /// (c633 6442 e000 0012 0070 000c) and of the message (3101 c801 0064 0000
    /// c633 6441) add up to 0x4_2edd; folded 0x2ee1, complemented 0xd11e.
    const ADVERT: [u8; 12] = [
        0x31, // version 3, type 1
        0x01, // VRID 1
        0xc8, // priority 200
        0x01, // one address
        0x00, 0x64, // reserved 0, interval 100 cs
        0xd1, 0x1e, // checksum
        198, 51, 100, 65, // the virtual address
    ];

    #[test]
    fn a_known_advert_reads_field_by_field_and_its_checksum_holds() {
        let a = parse(&ADVERT, R1, GROUP).unwrap();
        assert_eq!(
            a,
            Advert {
                version: 3,
                kind: 1,
                vrid: 1,
                priority: 200,
                interval_cs: 100,
                checksum: 0xd11e,
                checksum_ok: true,
                addrs: vec![Ipv4Addr::new(198, 51, 100, 65)],
            }
        );
        // The builder sends exactly these bytes.
        assert_eq!(build(1, 200, 100, &a.addrs, R1), ADVERT);
        let f = explain(&ADVERT, 34, R1, GROUP).unwrap();
        let names: Vec<&str> = f.iter().map(|x| x.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "vrrp.ver_type",
                "vrrp.vrid",
                "vrrp.prio",
                "vrrp.addr_count",
                "vrrp.max_adver_int",
                "vrrp.checksum",
                "vrrp.ip_addr"
            ]
        );
        assert_eq!(f[0].value.en, "v3 · 1 (advertisement)");
        assert_eq!(f[2].value.en, "200: higher wins the election");
        assert_eq!(f[4].value.en, "100 cs = 1000 ms");
        assert_eq!(f[4].range, 38..40, "offset by Ethernet and IPv4");
        assert_eq!(f[5].value.en, "0xd11e (correct)");
        assert_eq!(f[6].value.en, "198.51.100.65");
        assert_eq!(f[6].range, 42..46);
    }

    #[test]
    fn a_wrong_checksum_or_sender_is_caught() {
        let mut b = ADVERT;
        b[2] = 100; // priority changed, checksum not
        assert!(!parse(&b, R1, GROUP).unwrap().checksum_ok);
        // The pseudo-header counts: the same bytes from another sender fail.
        let other = Ipv4Addr::new(198, 51, 100, 67);
        assert!(!parse(&ADVERT, other, GROUP).unwrap().checksum_ok);
        let f = explain(&b, 0, R1, GROUP).unwrap();
        assert!(f[5].value.en.ends_with("(WRONG)"));
    }

    #[test]
    fn too_short_and_too_long() {
        assert!(parse(&ADVERT[..7], R1, GROUP).is_err(), "no full header");
        assert!(parse(&ADVERT[..11], R1, GROUP).is_err(), "the address cut");
        // Bytes after the announced addresses are not part of the message.
        let mut long = ADVERT.to_vec();
        long.extend_from_slice(&[0xde, 0xad]);
        let a = parse(&long, R1, GROUP).unwrap();
        assert!(a.checksum_ok && a.addrs.len() == 1);
    }

    #[test]
    fn version_2_reads_seconds_and_no_pseudo_header() {
        // VRRPv2: auth type 0, interval 1 s, one address, 8 bytes of auth data.
        let mut b = vec![0x21, 1, 100, 1, 0, 1, 0, 0, 198, 51, 100, 65];
        b.extend_from_slice(&[0; 8]);
        let sum = pnet_packet::util::checksum(&b, 3);
        b[6..8].copy_from_slice(&sum.to_be_bytes());
        let a = parse(&b, R1, GROUP).unwrap();
        assert_eq!((a.version, a.interval_cs, a.checksum_ok), (2, 100, true));
        let f = explain(&b, 0, R1, GROUP).unwrap();
        assert!(f
            .iter()
            .any(|x| x.name == "vrrp.auth_data" && x.range == (12..20)));
        assert!(parse(&b[..12], R1, GROUP).is_err(), "auth data missing");
    }

    #[test]
    fn unknown_types_keep_their_number() {
        let mut b = ADVERT;
        b[0] = 0x35;
        assert_eq!(
            explain(&b, 0, R1, GROUP).unwrap()[0].value.en,
            "v3 · Unknown(5)"
        );
        assert_eq!(priority_text(0).en, "0: the master is leaving");
    }
}
