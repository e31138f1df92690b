//! What `netlab async` says, in both languages: each message with arguments
//! is one function, its English and Chinese side by side; the code excerpts
//! of the four styles, written for this demo.

use crate::narrate::{plural, tx, Text};
use crate::transport::aio::{Call, Completion, Readiness, Refusal, Served, UringAccess};
use crate::transport::mux::FdLimit;

/// A count of calls: `epoll_wait ×3, read ×100: 104 in all`.
pub fn calls(calls: &[Call]) -> Text {
    let list = calls
        .iter()
        .map(|c| format!("{} ×{}", c.call, c.count))
        .collect::<Vec<_>>()
        .join(", ");
    let total: u32 = calls.iter().map(|c| c.count).sum();
    tx(
        format!("{list}: {total} in all (netlab's own count)"),
        format!("{list}：共 {total} 次（netlab 自己逐次计数）"),
    )
}

/// Step 1's title.
pub fn readiness_title(r: &Readiness, reads: u32) -> Text {
    tx(
        format!(
            "Readiness: epoll_wait said which of {} could be read; then {} copied the bytes",
            plural(r.sockets as u64, "socket", "sockets"),
            plural(reads, "read() call", "read() calls")
        ),
        format!(
            "就绪：epoll_wait 告诉程序 {} 个套接字里哪些可读；随后 {reads} 次 read() 才把数据拷过来",
            r.sockets
        ),
    )
}

/// What epoll_wait's answer meant.
pub fn told(r: &Readiness) -> Text {
    tx(
        format!(
            "the first socket reported still had its {} bytes in the kernel (FIONREAD): \"you may read now\", not \"here is your data\"",
            r.first_queued
        ),
        format!(
            "报告的第一个套接字，{} 字节还在内核里（FIONREAD）：意思是「现在可以读了」，不是「数据给你了」",
            r.first_queued
        ),
    )
}

/// What the reads did.
pub fn copied(r: &Readiness, reads: u32) -> Text {
    tx(
        format!(
            "{} copied {} bytes into netlab's buffers; {} of {} messages arrived whole",
            plural(reads, "read() call", "read() calls"),
            r.bytes_read,
            r.intact,
            r.sockets
        ),
        format!(
            "{reads} 次 read() 把 {} 字节拷进 netlab 的缓冲区；{} 条消息中 {} 条完整",
            r.bytes_read, r.sockets, r.intact
        ),
    )
}

/// Step 2's title, when io_uring ran.
pub fn completion_title(c: &Completion, enters: u32) -> Text {
    tx(
        format!(
            "Completion: {} went to the kernel at once and came back done: {} in all, no read() at all",
            plural(c.submitted as u64, "recv request", "recv requests"),
            plural(enters, "io_uring_enter call", "io_uring_enter calls")
        ),
        format!(
            "完成：{} 个 recv 请求一次交给内核，回来时已经完成：共 {enters} 次 io_uring_enter，一次 read() 也没调用",
            c.submitted
        ),
    )
}

/// What the submit did.
pub fn submitted(c: &Completion) -> Text {
    tx(
        format!(
            "{} recvs (socket and buffer each) in one io_uring_enter, which returned at once: {} done then (nothing sent yet)",
            c.submitted, c.done_at_submit
        ),
        format!(
            "{} 个 recv（各自指明套接字和缓冲区）在一次 io_uring_enter 中提交，立即返回：此时完成 {} 个（还没有数据发出）",
            c.submitted, c.done_at_submit
        ),
    )
}

/// What the completions brought.
pub fn completed(c: &Completion) -> Text {
    tx(
        format!(
            "{} completions, {} bytes already in netlab's buffers: \"the read is done\"; {} of {} messages whole",
            c.completed, c.bytes, c.intact, c.sockets
        ),
        format!(
            "{} 个完成事件，{} 字节已在 netlab 的缓冲区里：意思是「读已完成」；{} 条消息中 {} 条完整",
            c.completed, c.bytes, c.sockets, c.intact
        ),
    )
}

/// Step 2's title when io_uring is not allowed.
pub fn refused_title(a: &UringAccess) -> Text {
    let e = errno_name(a.errno.unwrap_or(0));
    tx(
        format!(
            "Completion: this kernel does not let netlab use io_uring here (io_uring_setup: {e})"
        ),
        format!("完成：这里的内核不允许 netlab 使用 io_uring（io_uring_setup：{e}）"),
    )
}

fn errno_name(e: i32) -> String {
    match e {
        libc::EPERM => "EPERM".into(),
        libc::ENOSYS => "ENOSYS".into(),
        libc::EACCES => "EACCES".into(),
        libc::ENOMEM => "ENOMEM".into(),
        e => format!("errno {e}"),
    }
}

/// Why io_uring was refused, and what would allow it.
pub fn refused(a: &UringAccess) -> Text {
    let e = errno_name(a.errno.unwrap_or(0));
    let v = a
        .disabled_sysctl
        .map_or_else(|| "absent".to_string(), |v| v.to_string());
    match a.reason {
        Some(Refusal::Sysctl) => tx(
            format!(
                "kernel.io_uring_disabled is {v} (1: only root and the io_uring_group may; 2: nobody may); root can allow it with `sysctl kernel.io_uring_disabled=0`"
            ),
            format!(
                "kernel.io_uring_disabled 为 {v}（1：只有 root 和 io_uring_group 组可用；2：谁都不能用）；root 可用 `sysctl kernel.io_uring_disabled=0` 放开"
            ),
        ),
        Some(Refusal::NotBuilt) => tx(
            format!("{e}: this kernel was built without io_uring (Linux 5.1 or later, CONFIG_IO_URING)"),
            format!("{e}：这个内核编译时没有 io_uring（需要 Linux 5.1 及以上、CONFIG_IO_URING）"),
        ),
        Some(Refusal::Sandbox) => tx(
            format!(
                "{e} although kernel.io_uring_disabled is {v}: a seccomp filter (the default profiles of Docker and Podman refuse io_uring) or a security module stands in the way"
            ),
            format!(
                "kernel.io_uring_disabled 为 {v}，却仍返回 {e}：挡住它的是 seccomp 过滤器（Docker 和 Podman 的默认配置都拒绝 io_uring）或安全模块"
            ),
        ),
        _ => tx(
            format!("io_uring_setup failed with {e}"),
            format!("io_uring_setup 失败：{e}"),
        ),
    }
}

/// The descriptor limit, raised or not.
pub fn fd_limit(l: &FdLimit) -> Text {
    if l.before < l.after {
        tx(
            format!(
                "soft limit raised from {} to the hard limit, {}",
                l.before, l.after
            ),
            format!("软限制从 {} 提高到硬限制 {}", l.before, l.after),
        )
    } else {
        tx(
            format!("{} (already the hard limit)", l.after),
            format!("{}（已是硬限制）", l.after),
        )
    }
}

/// Section 2's heading.
pub fn serve_section(n: usize) -> Text {
    tx(
        format!("2 · One thread, {n} connections"),
        format!("2 · 一个线程，{n} 个连接"),
    )
}

/// Step 3's title.
pub fn tokio_title(s: &Served, n: usize) -> Text {
    tx(
        format!(
            "{} every handler for {} open at once; {} of {n} clients got their answer",
            plural(s.serving_threads as u64, "thread ran", "threads ran"),
            plural(s.peak_open as u64, "connection", "connections"),
            s.connections
        ),
        format!(
            "{} 个线程运行了全部处理函数，同时在线的连接 {} 个；{n} 个客户端中 {} 个收到了回答",
            s.serving_threads, s.peak_open, s.connections
        ),
    )
}

/// Threads while every connection was open.
pub fn threads(s: &Served) -> Text {
    tx(
        format!(
            "{} in the server's process with {} connections open (/proc/self/task); {} ran the handlers",
            s.threads, s.peak_open, s.serving_threads
        ),
        format!(
            "{} 个连接同时在线时，服务进程有 {} 个线程（/proc/self/task）；运行处理函数的有 {} 个",
            s.peak_open, s.threads, s.serving_threads
        ),
    )
}

/// Descriptors while every connection was open.
pub fn fds(s: &Served) -> Text {
    let others = s.fds.saturating_sub(s.peak_open);
    tx(
        format!(
            "{} open then (/proc/self/fd): {} connections, {others} others (the listener, the loop's own, pipes, stdio)",
            s.fds, s.peak_open
        ),
        format!(
            "当时打开 {} 个（/proc/self/fd）：{} 个连接，另 {others} 个（监听套接字、事件循环自己的、管道、标准输入输出）",
            s.fds, s.peak_open
        ),
    )
}

/// The time the clients measured.
pub fn time(s: &Served) -> Text {
    tx(
        format!(
            "{:.0} ms from the first connect to the last reply, timed by the clients",
            s.ms
        ),
        format!(
            "从第一个 connect 到最后一个回答 {:.0} ms，由客户端计时",
            s.ms
        ),
    )
}

/// asyncio's time beside tokio's, as measured in this run.
pub fn beside(py: &Served, tokio: &Served) -> Text {
    let r = py.ms / tokio.ms.max(1e-3);
    if r >= 1.0 {
        tx(
            format!(
                "{:.0} ms from the first connect to the last reply: {r:.1}× the tokio loop's {:.0} ms in this run",
                py.ms, tokio.ms
            ),
            format!(
                "从第一个 connect 到最后一个回答 {:.0} ms：本次运行中是 tokio 循环（{:.0} ms）的 {r:.1} 倍",
                py.ms, tokio.ms
            ),
        )
    } else {
        tx(
            format!(
                "{:.0} ms from the first connect to the last reply: less than the tokio loop's {:.0} ms in this run",
                py.ms, tokio.ms
            ),
            format!(
                "从第一个 connect 到最后一个回答 {:.0} ms：本次运行中比 tokio 循环的 {:.0} ms 还少",
                py.ms, tokio.ms
            ),
        )
    }
}

/// Step 4's title when asyncio ran.
pub fn asyncio_title(version: &str, s: &Served, n: usize) -> Text {
    tx(
        format!(
            "Python {version}'s asyncio served the same {} from one event loop: {} got their answer",
            plural(n as u64, "client", "clients"),
            s.connections
        ),
        format!(
            "Python {version} 的 asyncio 用一个事件循环服务同样的 {n} 个客户端：{} 个收到了回答",
            s.connections
        ),
    )
}

/// The script and the python that ran it.
pub fn ran_by(python: &str) -> Text {
    tx(
        format!("written by netlab to a private directory, run with {python}; its own figures, read back"),
        format!("netlab 写进私有目录，用 {python} 运行；数字由脚本自己统计、netlab 读回"),
    )
}

/// Step 4's title without python3.
pub fn no_python_title() -> Text {
    tx(
        "No python3 on this system: the asyncio server was not run",
        "本机没有 python3：asyncio 服务端没有运行",
    )
}

/// What to do without python3.
pub fn no_python() -> Text {
    tx(
        "none on PATH that this user may run: install it (`apt install python3`, which brings asyncio) and run `netlab async` again; the tokio half above ran all the same",
        "PATH 里没有本用户能运行的 python3：安装后（`apt install python3`，asyncio 随之而来）再运行 `netlab async`；上面 tokio 的部分照常运行了",
    )
}

/// Whether a library the shape uses is in this python3.
pub fn installed(lib: &str, pip: &str, have: Option<bool>) -> Text {
    match have {
        Some(true) => tx(
            format!("{lib} is installed in this python3, but only asyncio ran"),
            format!("这个 python3 里装有 {lib}，但实际运行的只有 asyncio"),
        ),
        Some(false) => tx(
            format!("shown, not run: {lib} is not in the standard library nor in this python3 (`pip install {pip}`)"),
            format!("只展示、不运行：{lib} 不在标准库里，这个 python3 也没装（`pip install {pip}`）"),
        ),
        None => tx(
            format!("shown, not run: no python3 here, and {lib} is not in its standard library (`pip install {pip}`)"),
            format!("只展示、不运行：本机没有 python3，{lib} 也不在其标准库里（`pip install {pip}`）"),
        ),
    }
}

/// The summary's title.
pub fn summary(tokio: &Served, n: usize, completion: bool) -> Text {
    let (en, zh) = if completion {
        (
            "completion I/O (io_uring) ran",
            "完成式 I/O（io_uring）可用",
        )
    } else {
        (
            "completion I/O (io_uring) was not allowed here",
            "这里不允许完成式 I/O（io_uring）",
        )
    };
    tx(
        format!(
            "{}/{n} connections answered by {}; {en}",
            tokio.connections,
            plural(tokio.serving_threads as u64, "thread", "threads")
        ),
        format!(
            "{} 个线程回答了 {}/{n} 个连接；{zh}",
            tokio.serving_threads, tokio.connections
        ),
    )
}

/// A code excerpt as facts' values: one line each, in backquotes (code the
/// reader may copy), its indentation kept with no-break spaces so the text
/// view does not fold it away.
pub fn code_lines(code: &Text) -> Vec<Text> {
    let en: Vec<&str> = code.en.lines().collect();
    let zh: Vec<&str> = code.zh.lines().collect();
    en.iter()
        .zip(zh.iter())
        .map(|(e, z)| tx(line(e), line(z)))
        .collect()
}

fn line(l: &str) -> String {
    let body = l.trim_start();
    let indent = l.len() - body.len();
    format!("`{}{}`", "\u{a0}".repeat(indent), body)
}

/// The tokio handler this run served with, abridged (its counting left out).
pub fn tokio_code() -> Text {
    tx(
        "async fn answer(mut s: TcpStream) -> io::Result<()> {
    let mut request = [0u8; 16];
    s.read_exact(&mut request).await?; // others run
    s.write_all(REPLY).await
}
// per connection: task::spawn_local(answer(s))",
        "async fn answer(mut s: TcpStream) -> io::Result<()> {
    let mut request = [0u8; 16];
    s.read_exact(&mut request).await?; // 别的任务先跑
    s.write_all(REPLY).await
}
// 每个连接：task::spawn_local(answer(s))",
    )
}

/// The asyncio handler the script ran, abridged (its counting left out).
pub fn asyncio_code() -> Text {
    tx(
        "async def answer(reader, writer):  # a coroutine
    request = await reader.readexactly(16)  # others run
    writer.write(REPLY)
    await writer.drain()
await asyncio.start_server(answer, sock=listener)",
        "async def answer(reader, writer):  # 协程
    request = await reader.readexactly(16)  # 别的协程先跑
    writer.write(REPLY)
    await writer.drain()
await asyncio.start_server(answer, sock=listener)",
    )
}

/// The same handler with gevent.
pub fn gevent_code() -> Text {
    tx(
        "from gevent import monkey; monkey.patch_all()  # first
from gevent.server import StreamServer
def answer(conn, addr):  # in a greenlet of its own
    request = conn.makefile(\"rb\").read(16)  # it waits
    conn.sendall(REPLY)
StreamServer(listener, answer).serve_forever()",
        "from gevent import monkey; monkey.patch_all()  # 最先
from gevent.server import StreamServer
def answer(conn, addr):  # 每个连接一个 greenlet
    request = conn.makefile(\"rb\").read(16)  # 只有它等
    conn.sendall(REPLY)
StreamServer(listener, answer).serve_forever()",
    )
}

/// The same handler with Twisted.
pub fn twisted_code() -> Text {
    tx(
        "class Answer(Protocol):
    request = b\"\"
    def dataReceived(self, data):  # the reactor calls
        self.request += data
        if len(self.request) == 16:
            # a Deferred: the reply, to come
            d = deferLater(reactor, 0, lambda: REPLY)
            d.addCallback(self.transport.write)
endpoint.listen(Factory.forProtocol(Answer))",
        "class Answer(Protocol):
    request = b\"\"
    def dataReceived(self, data):  # 由 reactor 回调
        self.request += data
        if len(self.request) == 16:
            # Deferred：回答稍后才有
            d = deferLater(reactor, 0, lambda: REPLY)
            d.addCallback(self.transport.write)
endpoint.listen(Factory.forProtocol(Answer))",
    )
}
