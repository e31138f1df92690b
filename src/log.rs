//! Logs, for whoever runs netlab and wants to see what it does: off by
//! default, on stderr only (never in the narration or the JSON on stdout).
//!
//! `-v` logs netlab's own events at info (each query a lab DNS server serves,
//! what it dropped); `-vv` adds debug and the events of hickory and other
//! libraries. `RUST_LOG` (tracing-subscriber's EnvFilter syntax) overrides both.

use tracing_subscriber::EnvFilter;

/// The filter for `-v` counted `verbose` times, unless `rust_log` says otherwise.
pub fn filter(verbose: u8, rust_log: Option<&str>) -> Option<EnvFilter> {
    if let Some(spec) = rust_log.filter(|s| !s.trim().is_empty()) {
        return EnvFilter::try_new(spec).ok();
    }
    let spec = match verbose {
        0 => return None,
        1 => "netlab=info",
        2 => "netlab=debug,hickory_proto=debug,hickory_resolver=debug,hickory_net=debug",
        _ => "trace",
    };
    EnvFilter::try_new(spec).ok()
}

/// Install the stderr logger for this run (no-op when logging is off).
pub fn init(verbose: u8) {
    let rust_log = std::env::var("RUST_LOG").ok();
    let Some(filter) = filter(verbose, rust_log.as_deref()) else {
        return;
    };
    // The same rules as the narration's colour, for stderr.
    let colour = crate::narrate::colour_on(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .with_target(true)
        // Seconds since the start: short, and what an instructor compares.
        .with_timer(tracing_subscriber::fmt::time::uptime())
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_by_default_and_rust_log_wins() {
        assert!(filter(0, None).is_none());
        assert!(
            filter(0, Some("  ")).is_none(),
            "an empty RUST_LOG is no setting"
        );
        assert_eq!(filter(1, None).unwrap().to_string(), "netlab=info");
        assert!(filter(2, None)
            .unwrap()
            .to_string()
            .contains("hickory_proto=debug"));
        assert_eq!(
            filter(0, Some("netlab::lab=debug")).unwrap().to_string(),
            "netlab::lab=debug"
        );
        assert_eq!(filter(2, Some("warn")).unwrap().to_string(), "warn");
    }
}
