//! Checking and converting the names users type.
//!
//! A name must fit DNS: labels of 1–63 bytes, at most 253 characters in all
//! (RFC 1035 §2.3.4), letters, digits, hyphen and underscore only once it is
//! ASCII. An internationalised name (中文.cn) is converted to punycode first
//! (IDNA, RFC 5891), and the conversion is reported so it can be shown.

use hickory_proto::rr::Name;

use crate::error::{char_name, quote, Error, Result};
use crate::text::{tx, Text};

/// A name ready to query, and how it was obtained.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedName {
    /// What the user typed.
    pub input: String,
    /// The ASCII form sent on the wire, fully qualified (ends in a dot).
    pub ascii: String,
    /// True when IDNA changed the name (non-ASCII input).
    pub converted: bool,
    /// The parsed name.
    pub name: Name,
}

/// Longest label in bytes.
pub const MAX_LABEL: usize = 63;
/// Longest name in characters, without the final dot.
pub const MAX_NAME: usize = 253;

fn bad(name: &str, reason: impl Into<Text>) -> Error {
    Error::BadName {
        name: name.to_string(),
        reason: reason.into(),
    }
}

fn empty_label() -> Text {
    tx(
        "empty label (two dots in a row, or a leading dot); each label between dots needs 1 to 63 characters",
        "空标签（连续两个点，或以点开头）；点与点之间的每个标签需要 1 到 63 个字符",
    )
}

/// Validate and convert a user-typed name.
pub fn check(input: &str) -> Result<CheckedName> {
    let trimmed = input.strip_suffix('.').unwrap_or(input);
    if input.is_empty() || input == "." {
        return Err(bad(
            input,
            tx(
                "the name is empty; give a domain such as www.baidu.com",
                "名字是空的；请给一个域名，例如 www.baidu.com",
            ),
        ));
    }
    // Whitespace and control characters first, named for what they are (a
    // newline is no space), before IDNA sees them.
    if let Some(c) = trimmed
        .chars()
        .find(|c| c.is_whitespace() || c.is_control())
    {
        let what = char_name(c);
        return Err(bad(
            input,
            tx(
                format!("a domain name cannot contain {}; use letters, digits, '-' and '_' between dots", what.en),
                format!("域名不能含{}；点与点之间用字母、数字、'-' 和 '_'", what.zh),
            ),
        ));
    }
    if trimmed.starts_with('.') || trimmed.contains("..") {
        return Err(bad(input, empty_label()));
    }
    let converted = !trimmed.is_ascii();
    let ascii = if converted {
        idna::domain_to_ascii(trimmed).map_err(|e| {
            bad(
                input,
                tx(
                    format!("cannot convert to punycode (IDNA): {e}"),
                    format!("无法转换为 punycode（IDNA）：{e}"),
                ),
            )
        })?
    } else {
        trimmed.to_string()
    };
    if ascii.len() > MAX_NAME {
        return Err(bad(
            input,
            tx(
                format!(
                    "{} characters long; a DNS name holds at most {MAX_NAME}",
                    ascii.len()
                ),
                format!("长 {} 个字符；DNS 名字最多 {MAX_NAME} 个", ascii.len()),
            ),
        ));
    }
    for label in ascii.split('.') {
        if label.is_empty() {
            return Err(bad(input, empty_label()));
        }
        let q = quote(label);
        if label.len() > MAX_LABEL {
            return Err(bad(
                input,
                tx(
                    format!(
                        "label {} is {} bytes; a label holds at most {MAX_LABEL}",
                        q.en,
                        label.len()
                    ),
                    format!(
                        "标签 {} 有 {} 字节；一个标签最多 {MAX_LABEL} 字节",
                        q.zh,
                        label.len()
                    ),
                ),
            ));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            let what = char_name(c);
            return Err(bad(
                input,
                tx(
                    format!(
                        "{} is not allowed; use letters, digits, '-' and '_'",
                        what.en
                    ),
                    format!("不允许{}；请用字母、数字、'-' 和 '_'", what.zh),
                ),
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(bad(
                input,
                tx(
                    format!("label {} starts or ends with '-'", q.en),
                    format!("标签 {} 以 '-' 开头或结尾", q.zh),
                ),
            ));
        }
    }
    let fqdn = format!("{ascii}.");
    let name = Name::from_ascii(&fqdn).map_err(|e| bad(input, e.to_string()))?;
    Ok(CheckedName {
        input: input.to_string(),
        ascii: fqdn,
        converted,
        name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_pass_and_become_fqdn() {
        let n = check("www.baidu.com").unwrap();
        assert_eq!(n.ascii, "www.baidu.com.");
        assert!(!n.converted);
        assert_eq!(check("www.baidu.com.").unwrap().ascii, "www.baidu.com.");
        assert_eq!(
            check("_dmarc.baidu.com").unwrap().ascii,
            "_dmarc.baidu.com."
        );
    }

    #[test]
    fn idn_is_converted_to_punycode() {
        let n = check("中文.cn").unwrap();
        assert!(n.converted);
        assert_eq!(n.ascii, "xn--fiq228c.cn.");
    }

    #[test]
    fn bad_names_are_refused_with_a_reason() {
        for (input, needle) in [
            ("", "empty"),
            (".", "empty"),
            ("a..b", "empty label"),
            (".a", "empty label"),
            ("a b", "cannot contain a space"),
            ("www.baidu\n.com", "cannot contain a newline"),
            ("a\u{7}b", "cannot contain a control character (U+0007)"),
            ("www.<baidu>.com", "the character '<' is not allowed"),
            ("a!.com", "not allowed"),
            ("-a.com", "'-'"),
        ] {
            let e = check(input).unwrap_err().to_string();
            assert!(e.contains(needle), "{input:?}: {e}");
        }
        let long_label = format!("{}.com", "a".repeat(64));
        assert!(check(&long_label)
            .unwrap_err()
            .to_string()
            .contains("at most 63"));
        let long_name = vec!["abcdefghi"; 30].join(".");
        assert!(check(&long_name)
            .unwrap_err()
            .to_string()
            .contains("at most 253"));
        // However long the input, the error quotes 64 characters of it.
        let huge = check(&"a".repeat(10_000)).unwrap_err();
        assert!(huge.to_string().len() < 200, "{huge}");
        assert!(huge.to_string().contains("(10000 characters)"), "{huge}");
        assert!(
            huge.text().zh.contains("共 10000 个字符"),
            "{}",
            huge.text().zh
        );
        let ok_label = format!("{}.com", "a".repeat(63));
        assert!(check(&ok_label).is_ok());
    }
}
