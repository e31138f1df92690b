//! `netlab async`: what "asynchronous non-blocking" means (Q25), and
//! asyncio, gevent and Twisted (Q37, Q38, Q39), live.
//!
//! 1. Readiness against completion, with every system call counted: epoll
//!    says which sockets may be read and read() copies (the model io-mux
//!    measures: select, poll and epoll, blocking and non-blocking); io_uring
//!    takes the whole recv and says when it is done, the bytes already in
//!    the buffer, where the kernel allows it (and says so where it does not).
//! 2. One tokio thread serving many connections at once, its threads and
//!    descriptors read from /proc; the same clients served by Python's
//!    asyncio, with a script netlab writes and the system's python3 runs.
//! 3. The same handler as a gevent green thread and as Twisted callbacks
//!    with a Deferred: shapes shown, not run.
//!
//! The engine is transport::aio; the io_uring calls live in sys::uring.

use crate::cli::AsyncArgs;
use crate::error::{exit, Result};
use crate::narrate::{tx, Narrator, Step, Summary, Text};
use crate::transport::aio::{
    self, Call, Completion, PyServed, Python, Readiness, Served, UringAccess,
};
use crate::transport::mux::FdLimit;

mod say;

/// Step 2's data: whether io_uring was allowed, and what it did.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct CompletionOut {
    /// What the kernel allows.
    access: UringAccess,
    /// What the io_uring reads did (null where io_uring is not allowed).
    completion: Option<Completion>,
}

/// Step 3's data: one tokio thread serving every connection.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct TokioOut {
    /// The descriptor limit, before and after raising it.
    fd_limit: FdLimit,
    /// The handler, as the step shows it (abridged).
    code: String,
    /// What the loop served.
    #[serde(flatten)]
    served: Served,
}

/// Step 4's data: the same clients served by Python's asyncio.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct AsyncioOut {
    /// What asyncio served; null without python3.
    python_asyncio: Option<PyServed>,
    /// The handler, as the step shows it (abridged from the script run).
    code: String,
}

/// Steps 5 and 6's data: a style's shape, shown, not run.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct ShapeOut {
    /// `gevent` or `twisted`.
    style: String,
    /// The handler in that style, as the step shows it.
    code: String,
    /// The library is installed in this python3; null without python3.
    installed: Option<bool>,
}

/// asyncio's figures in the summary.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct PyFigures {
    /// Clients that got the right reply.
    connections: usize,
    /// Threads in the Python process with every connection open.
    threads: usize,
    /// Milliseconds from the first connect to the last reply, timed by the clients.
    ms: f64,
    /// The Python version.
    version: String,
}

/// The run's results: the summary's fields.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct AsyncOut {
    /// Clients the one tokio thread answered (each counted by the clients).
    connections: usize,
    /// Threads in netlab's process while it served them (/proc/self/task).
    threads: usize,
    /// io_uring (completion-based I/O) was allowed and ran.
    completion: bool,
    /// Milliseconds from the first connect to the last reply, tokio loop.
    ms: f64,
    /// The system calls the readiness reads made.
    readiness_calls: Vec<Call>,
    /// The system calls the completion reads made; null where not allowed.
    completion_calls: Option<Vec<Call>>,
    /// The same clients served by Python's asyncio; null without python3.
    python_asyncio: Option<PyFigures>,
}

fn count(calls: &[Call], name: &str) -> u32 {
    calls
        .iter()
        .filter(|c| c.call == name)
        .map(|c| c.count)
        .sum()
}

const QS: &[&str] = &["Q25", "Q37", "Q38", "Q39"];

/// Run the demo.
pub fn run(args: &AsyncArgs, n: &mut Narrator) -> Result<i32> {
    n.pcap_note("async: loopback connections by the hundred and thousand; this run captures none of them (io-mux captures a blocked read's segment).");
    // Refuse a descriptor limit too low before anything runs.
    let limit = aio::fit_fd_limit(args.conns.max(args.reads * 2))?;

    // 1. Readiness.
    let r = aio::readiness(args.reads)?;
    let reads = count(&r.calls, "read");
    n.step(
        Step::new(
            say::readiness_title(&r, reads),
            tx(
                "Readiness: epoll_wait tells the program which sockets have data; the program then calls read(), and in that call the kernel copies the bytes. One wait for all the sockets, but still one read per socket. (`netlab io-mux` measures select, poll and epoll.)",
                "就绪通知：epoll_wait 告诉程序哪些套接字有数据；程序再调用 read()，内核在这次调用里拷贝数据。所有套接字共用一次等待，但每个套接字仍要一次 read。（`netlab io-mux` 测量了 select、poll 和 epoll。）",
            ),
            &["Q25"],
        )
        .section(tx("1 · Readiness and completion", "1 · 就绪与完成"))
        .fact(tx("told", "通知"), say::told(&r))
        .fact(tx("copied", "拷贝"), say::copied(&r, reads))
        .fact(tx("calls", "系统调用"), say::calls(&r.calls))
        .with(&r),
    )?;

    // 2. Completion, where the kernel allows it.
    let access = aio::uring_access();
    let c = if access.allowed {
        Some(aio::completion(args.reads)?)
    } else {
        None
    };
    let detail = tx(
        "Completion: the program hands the kernel the whole read (this socket, this buffer) and goes on; the kernel waits, copies and posts a completion. Linux does this with io_uring (5.1 and later), Windows with IOCP.",
        "完成通知：程序把整个读操作（哪个套接字、哪个缓冲区）交给内核就去做别的；内核等待、拷贝，再贴出完成事件。Linux 用 io_uring（5.1 及以上）做到这一点，Windows 用 IOCP。",
    );
    let correction = tx(
        "the notes ask about asynchronous non-blocking as one idea (Q25); it is two. A non-blocking call returns at once, data or not; epoll over non-blocking sockets is still synchronous I/O, as the program makes the read that copies. Asynchronous I/O hands the kernel the whole read, as io_uring does.",
        "笔记（Q25）把异步非阻塞当成一个概念，其实是两个。非阻塞调用不论有没有数据都立即返回；epoll 加非阻塞套接字仍是同步 I/O，因为拷贝数据的 read 是程序自己做的。异步 I/O 把整个读操作交给内核，io_uring 就是这样。",
    );
    let mut s = match &c {
        Some(c) => {
            let enters = count(&c.calls, "io_uring_enter");
            Step::new(say::completion_title(c, enters), detail, &["Q25"])
                .fact(tx("submitted", "提交"), say::submitted(c))
                .fact(tx("completed", "完成"), say::completed(c))
                .fact(tx("calls", "系统调用"), say::calls(&c.calls))
        }
        None => Step::new(say::refused_title(&access), detail, &["Q25"])
            .fact(tx("why", "原因"), say::refused(&access)),
    };
    s = s.correction(correction);
    n.step(s.with(&CompletionOut {
        access: access.clone(),
        completion: c.clone(),
    }))?;

    // 3. One tokio thread.
    let served = aio::serve_tokio(args.conns)?;
    let code = say::tokio_code();
    let mut s = Step::new(
        say::tokio_title(&served, args.conns),
        tx(
            "tokio's current-thread runtime (`new_current_thread()`): one thread runs an event loop over epoll. Each connection is a task; where a read would block, the task gives the thread back at `.await` and the loop runs one whose socket is ready. asyncio's loop, gevent's hub and Twisted's reactor work the same way. The clients are another process: what is counted is the server's.",
            "tokio 的单线程运行时（`new_current_thread()`）：一个线程跑着基于 epoll 的事件循环。每个连接是一个任务；读会阻塞时，任务在 `.await` 处交还线程，循环去运行套接字已就绪的任务。asyncio 的事件循环、gevent 的 hub、Twisted 的 reactor 都是这样工作的。客户端在另一个进程里：数的都是服务端的。",
        ),
        &["Q25", "Q37"],
    )
    .section(say::serve_section(args.conns))
    .fact(tx("threads", "线程"), say::threads(&served))
    .fact(tx("fds", "描述符"), say::fds(&served))
    .fact(tx("limit", "上限"), say::fd_limit(&limit))
    .fact(tx("time", "用时"), say::time(&served));
    for l in say::code_lines(&code) {
        s = s.fact(Text::from(""), l);
    }
    n.step(s.with(&TokioOut {
        fd_limit: limit,
        code: code.en.clone(),
        served: served.clone(),
    }))?;

    // 4. Python's asyncio, the same clients.
    let py = aio::serve_python(args.conns)?;
    let code = say::asyncio_code();
    let asyncio_detail = tx(
        "asyncio is Python's standard event loop. A coroutine (`async def`) runs until it awaits what is not ready, such as a socket's next bytes; the loop runs another meanwhile and resumes it when the socket is ready.",
        "asyncio 是 Python 标准库里的事件循环。协程（`async def`）一直运行到 `await` 一个未就绪的东西，比如套接字的下一段数据；循环先去运行别的协程，套接字就绪再回来接着运行它。",
    );
    let mut s = match &py {
        Python::Ran(p) => Step::new(
            say::asyncio_title(&p.version, &p.served, args.conns),
            asyncio_detail,
            &["Q37"],
        )
        .fact(tx("script", "脚本"), say::ran_by(&p.python))
        .fact(tx("threads", "线程"), say::threads(&p.served))
        .fact(tx("fds", "描述符"), say::fds(&p.served))
        .fact(tx("time", "用时"), say::beside(&p.served, &served)),
        Python::Missing => Step::new(say::no_python_title(), asyncio_detail, &["Q37"])
            .fact(tx("python3", "python3"), say::no_python()),
    };
    s = s.correction(tx(
        "the notes (Q37) spell the module asynio; it is asyncio (`import asyncio`), in Python's standard library since 3.4, with `async` and `await` since 3.5.",
        "笔记（Q37）把模块名写成了 asynio；正确的是 asyncio（`import asyncio`），从 Python 3.4 起在标准库里，3.5 起有 `async` 和 `await` 语法。",
    ));
    for l in say::code_lines(&code) {
        s = s.fact(Text::from(""), l);
    }
    let py_served = match py {
        Python::Ran(p) => Some(p),
        Python::Missing => None,
    };
    n.step(s.with(&AsyncioOut {
        python_asyncio: py_served.clone(),
        code: code.en.clone(),
    }))?;

    // 5. and 6. gevent and Twisted: the same handler, shown.
    let shapes = [
        (
            "gevent",
            "gevent",
            tx(
                "gevent: the same handler written as plain blocking code, run in green threads",
                "gevent：同样的处理函数，写成普通的阻塞代码，运行在绿色线程里",
            ),
            tx(
                "gevent (third-party) runs each connection in a greenlet, a green thread switched by gevent, not the kernel. `monkey.patch_all()` swaps `socket`, `time.sleep` and kin for versions that register with gevent's hub (a libev or libuv loop over epoll) and switch greenlets instead of blocking. Blocking-style code gets asyncio's concurrency without `await`; an unpatched call (a C library's own I/O) still blocks them all.",
                "gevent（第三方库）让每个连接运行在一个 greenlet 里：由 gevent 而不是内核切换的绿色线程。`monkey.patch_all()` 把 `socket`、`time.sleep` 等换成协作式版本：不阻塞线程，而是向 gevent 的 hub（基于 epoll 的 libev 或 libuv 循环）登记，然后切换 greenlet。阻塞写法的代码不用 `await` 就有了 asyncio 那样的并发；没被替换的调用（C 库自己的 I/O）仍会挡住所有 greenlet。",
            ),
            "Q38",
            say::gevent_code(),
            py_served.as_ref().map(|p| p.gevent),
        ),
        (
            "twisted",
            "Twisted",
            tx(
                "Twisted: the same handler as callbacks; a Deferred stands for a result still to come",
                "Twisted：同样的处理函数写成回调；Deferred 代表一个还没到来的结果",
            ),
            tx(
                "Twisted's reactor, an event loop over epoll, calls a Protocol's methods when something happens: a connection, data (`dataReceived`), a close. Work done later returns a Deferred; callbacks (`addCallback`) and error handlers (`addErrback`) attached to it run when the result is in. Twisted also takes `async def` (`ensureDeferred`) and can run on asyncio's loop.",
                "Twisted 的 reactor 是基于 epoll 的事件循环，有事发生时调用 Protocol 的方法：新连接、数据到达（`dataReceived`）、关闭。稍后才有结果的工作返回一个 Deferred；挂在它上面的回调（`addCallback`）和错误处理（`addErrback`）在结果到来时执行。Twisted 也接受 `async def`（`ensureDeferred`），还能跑在 asyncio 的事件循环上。",
            ),
            "Q39",
            say::twisted_code(),
            py_served.as_ref().map(|p| p.twisted),
        ),
    ];
    for (i, (style, lib, title, detail, q, code, installed)) in shapes.into_iter().enumerate() {
        let pip = if style == "twisted" {
            "twisted"
        } else {
            "gevent"
        };
        let mut s = Step::new(title, detail, &[q])
            .fact(tx("here", "本机"), say::installed(lib, pip, installed));
        if i == 0 {
            s = s.section(tx(
                "3 · The same handler in two more Python styles",
                "3 · 同一个处理函数的另两种 Python 写法",
            ));
        }
        for l in say::code_lines(&code) {
            s = s.fact(Text::from(""), l);
        }
        n.step(s.with(&ShapeOut {
            style: style.to_string(),
            code: code.en.clone(),
            installed,
        }))?;
    }

    let completion = c.is_some();
    let ok = r.intact == r.sockets
        && c.as_ref().is_none_or(|c| c.intact == c.sockets)
        && served.connections == args.conns
        && py_served
            .as_ref()
            .is_none_or(|p| p.served.connections == args.conns);
    n.summary(
        Summary {
            title: say::summary(&served, args.conns, completion),
            lines: vec![tx(
                "No thread sleeps on one connection: readiness (epoll) says when a read will not block, completion (io_uring) says it is done, and an event loop turns either into many conversations on one thread.",
                "没有哪个线程守着一个连接睡觉：就绪通知（epoll）说什么时候读不会阻塞，完成通知（io_uring）说读已完成，事件循环把二者之一变成一个线程上的许多会话。",
            )],
            questions: crate::record::qs(QS),
            ok,
            ..Summary::default()
        }
        .with(&AsyncOut {
            connections: served.connections,
            threads: served.threads,
            completion,
            ms: served.ms,
            readiness_calls: r.calls.clone(),
            completion_calls: c.map(|c| c.calls),
            python_asyncio: py_served.map(|p| PyFigures {
                connections: p.served.connections,
                threads: p.served.threads,
                ms: p.served.ms,
                version: p.version,
            }),
        }),
    )?;
    Ok(if ok { exit::OK } else { exit::NETWORK_NO })
}

/// This demo's typed step data and summary, for docs/json-schema.md.
pub fn schema() -> super::schema::DemoSchema {
    super::schema::DemoSchema::new(
        "async",
        "Readiness (epoll) against completion (io_uring), system calls counted; one tokio thread and Python's asyncio serving many connections; gevent and Twisted shapes.",
    )
    .step::<Readiness>("1 · readiness: epoll_wait, then read()")
    .step::<CompletionOut>("1 · completion: io_uring, or why not")
    .step::<TokioOut>("2 · one tokio thread serving every connection")
    .step::<AsyncioOut>("2 · the same clients served by Python's asyncio")
    .step::<ShapeOut>("3 · gevent and Twisted: the handler's shape")
    .summary::<AsyncOut>()
}
