//! The engine of `netlab concurrency`: processes, threads and tasks started
//! and measured; the same CPU-bound work run serially, in parallel and
//! interleaved; a race, a futex mutex and a file lock between processes; the
//! system's python3 asked the same questions. Real system calls, figures read
//! from /proc and getrusage; no narration here (the story is in
//! demos::concurrency).
//!
//! - [`spawn`]: N processes (fork+exec, posix_spawn), N threads, N tokio tasks
//! - [`parallel`]: one thread, a thread per core, tasks on one thread
//! - [`locks`]: lost updates, a counted futex mutex, flock between processes
//! - [`python`]: the GIL, pools and `threading.local`, from python3's own mouth

pub mod locks;
pub mod parallel;
pub mod python;
pub mod spawn;

use std::time::Duration;

/// What /proc/PID/status (or /proc/self/task/TID/status) says of a process
/// or thread: memory in KiB, context switches since it began.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Status {
    /// VmRSS: resident memory, KiB.
    pub rss_kb: u64,
    /// RssAnon: the resident part that is the process's own (heap, stacks), KiB.
    pub rss_anon_kb: u64,
    /// VmSize: address space reserved, KiB.
    pub vm_kb: u64,
    /// Threads in the process.
    pub threads: u64,
    /// voluntary_ctxt_switches: times it gave the CPU up (to wait).
    pub voluntary: u64,
    /// nonvoluntary_ctxt_switches: times the scheduler took the CPU away.
    pub involuntary: u64,
}

/// Parse the text of a /proc status file; fields it lacks stay 0 (a
/// kernel thread or a zombie has no Vm lines).
pub fn parse_status(text: &str) -> Status {
    let mut s = Status::default();
    for line in text.lines() {
        let Some((key, rest)) = line.split_once(':') else {
            continue;
        };
        let v = rest
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        match key {
            "VmRSS" => s.rss_kb = v,
            "RssAnon" => s.rss_anon_kb = v,
            "VmSize" => s.vm_kb = v,
            "Threads" => s.threads = v,
            "voluntary_ctxt_switches" => s.voluntary = v,
            "nonvoluntary_ctxt_switches" => s.involuntary = v,
            _ => {}
        }
    }
    s
}

/// Read a /proc status file.
pub fn status(path: &str) -> Option<Status> {
    std::fs::read_to_string(path).ok().map(|t| parse_status(&t))
}

/// This process's status.
pub fn self_status() -> Status {
    status("/proc/self/status").unwrap_or_default()
}

/// The calling thread's status.
pub fn thread_status() -> Status {
    status("/proc/thread-self/status").unwrap_or_default()
}

/// The state letter of /proc/PID/stat (`S` sleeping, `R` running, `Z` zombie):
/// the field after the command name, which is in parentheses and may itself
/// hold spaces or parentheses.
pub fn stat_state(stat: &str) -> Option<char> {
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .next()?
        .chars()
        .next()
}

/// CPU time this process has used, user and system, from getrusage(RUSAGE_SELF).
pub fn cpu_time() -> Duration {
    use nix::sys::resource::{getrusage, UsageWho};
    getrusage(UsageWho::RUSAGE_SELF)
        .map(|u| {
            let t = |tv: nix::sys::time::TimeVal| {
                Duration::from_secs(tv.tv_sec().max(0) as u64)
                    + Duration::from_micros(tv.tv_usec().max(0) as u64)
            };
            t(u.user_time()) + t(u.system_time())
        })
        .unwrap_or_default()
}

/// The cores this process may run on: sched_getaffinity's set (what
/// std::thread::available_parallelism also honours, with cgroup quotas).
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The cores the kernel has online, whether or not this process may use them.
pub fn cores_online() -> usize {
    std::fs::read_to_string("/sys/devices/system/cpu/online")
        .ok()
        .map(|s| count_cpu_list(s.trim()))
        .filter(|n| *n > 0)
        .unwrap_or_else(cores)
}

/// Count the CPUs in a kernel CPU list such as `0-3,8,10-11`.
pub fn count_cpu_list(list: &str) -> usize {
    list.split(',')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('-') {
            Some((a, b)) => match (a.parse::<usize>(), b.parse::<usize>()) {
                (Ok(a), Ok(b)) if b >= a => b - a + 1,
                _ => 0,
            },
            None => usize::from(p.parse::<usize>().is_ok()),
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_file_is_read_by_its_keys() {
        let t = "Name:\tcat\nVmSize:\t    5480 kB\nVmRSS:\t    1792 kB\nRssAnon:\t      96 kB\nThreads:\t1\nvoluntary_ctxt_switches:\t3\nnonvoluntary_ctxt_switches:\t1\n";
        let s = parse_status(t);
        assert_eq!(
            s,
            Status {
                rss_kb: 1792,
                rss_anon_kb: 96,
                vm_kb: 5480,
                threads: 1,
                voluntary: 3,
                involuntary: 1
            }
        );
        // A zombie has no memory lines: zeros, not an error.
        assert_eq!(parse_status("State:\tZ (zombie)\n").rss_kb, 0);
    }

    #[test]
    fn the_state_follows_the_last_parenthesis() {
        assert_eq!(stat_state("42 (cat) S 1 42 42"), Some('S'));
        assert_eq!(stat_state("42 (a) b) R 1"), Some('R'));
        assert_eq!(stat_state("garbage"), None);
    }

    #[test]
    fn cpu_lists_are_counted() {
        assert_eq!(count_cpu_list("0-1"), 2);
        assert_eq!(count_cpu_list("0-3,8,10-11"), 7);
        assert_eq!(count_cpu_list("0"), 1);
        assert_eq!(count_cpu_list("3-1"), 0);
    }
}
