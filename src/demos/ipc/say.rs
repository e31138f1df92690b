//! What `netlab ipc` says, in both languages: each message with arguments
//! is one function, its English and Chinese side by side.

use crate::ipc::{Exchange, Mechanism, Place, Tally};
use crate::narrate::{tx, Text};

/// A round-trip time as it reads best: two decimals under 10 µs.
pub fn us(v: f64) -> String {
    if v < 10.0 {
        format!("{v:.2} µs")
    } else if v < 1000.0 {
        format!("{v:.1} µs")
    } else {
        format!("{:.2} ms", v / 1000.0)
    }
}

/// The mechanism's name in a sentence.
pub fn name(m: Mechanism) -> Text {
    match m {
        Mechanism::Pipe => tx("pipe", "管道"),
        Mechanism::Fifo => tx("FIFO (named pipe)", "FIFO（命名管道）"),
        Mechanism::UnixStream => tx("Unix stream socket", "Unix 流套接字"),
        Mechanism::UnixDgram => tx("Unix datagram socket", "Unix 数据报套接字"),
        Mechanism::Socketpair => tx("socketpair", "socketpair"),
        Mechanism::Mqueue => tx("POSIX message queue", "POSIX 消息队列"),
        Mechanism::Shm => tx("shared memory", "共享内存"),
        Mechanism::Signal => tx("signal", "信号"),
        Mechanism::Tcp => tx("loopback TCP", "回环 TCP"),
    }
}

/// A short name for the summary's ranking.
pub fn short(m: Mechanism) -> Text {
    match m {
        Mechanism::Pipe => tx("pipe", "管道"),
        Mechanism::Fifo => tx("FIFO", "FIFO"),
        Mechanism::UnixStream => tx("Unix stream", "Unix 流"),
        Mechanism::UnixDgram => tx("Unix datagram", "Unix 数据报"),
        Mechanism::Socketpair => tx("socketpair", "socketpair"),
        Mechanism::Mqueue => tx("queue", "消息队列"),
        Mechanism::Shm => tx("shared memory", "共享内存"),
        Mechanism::Signal => tx("signal", "信号"),
        Mechanism::Tcp => tx("TCP", "TCP"),
    }
}

/// Frames seen on lo during a turn, or why none were counted.
pub fn frames(n: Option<usize>) -> Text {
    match n {
        Some(0) => tx("0 frames on lo", "lo 上 0 帧"),
        Some(1) => tx("1 frame on lo", "lo 上 1 帧"),
        Some(n) => tx(format!("{n} frames on lo"), format!("lo 上 {n} 帧")),
        None => tx("lo not captured", "未抓取 lo"),
    }
}

/// A mechanism's step title.
pub fn title(ex: &Exchange, on_lo: Option<usize>) -> Text {
    let (n, k, t, f) = (
        name(ex.mechanism),
        ex.round_trips(),
        us(ex.median_us()),
        frames(on_lo),
    );
    tx(
        format!("{}: {k} round trips, median {t}; {}", n.en, f.en),
        format!("{}：往返 {k} 次，中位数 {t}；{}", n.zh, f.zh),
    )
}

/// The system calls each mechanism made, as the step names them.
pub fn calls(m: Mechanism) -> Text {
    match m {
        Mechanism::Pipe => tx(
            "pipe2() twice before the child started, one pipe each way (the child inherited its ends across fork + exec); then write() and read()",
            "子进程启动前调用两次 pipe2()，每个方向一条（子进程经 fork + exec 继承了它那一端）；之后 write() 和 read()",
        ),
        Mechanism::Fifo => tx(
            "mkfifo() twice in a private directory; open() by path on both sides; unlink() of both names at once (the open pipes live on); write() and read()",
            "在私有目录里调用两次 mkfifo()；双方按路径 open()；随即 unlink() 两个名字（已打开的管道照常工作）；之后 write() 和 read()",
        ),
        Mechanism::UnixStream => tx(
            "socket(AF_UNIX, SOCK_STREAM), bind() to a path, listen(); the child's connect(); accept(); unlink() of the path; write() and read()",
            "socket(AF_UNIX, SOCK_STREAM)、bind() 到一个路径、listen()；子进程 connect()；accept()；unlink() 删除路径；之后 write() 和 read()",
        ),
        Mechanism::UnixDgram => tx(
            "socket(AF_UNIX, SOCK_DGRAM) on each side, bind() to a path of its own, connect() to the other's; unlink() of both; send() and recv()",
            "双方各自 socket(AF_UNIX, SOCK_DGRAM)，bind() 到自己的路径，connect() 到对方的；unlink() 两个路径；之后 send() 和 recv()",
        ),
        Mechanism::Socketpair => tx(
            "socketpair(AF_UNIX, SOCK_STREAM) before the child started (it inherited one end); write() and read() on one socket, both ways",
            "子进程启动前调用 socketpair(AF_UNIX, SOCK_STREAM)（子进程继承了一端）；同一个套接字上双向 write() 和 read()",
        ),
        Mechanism::Mqueue => tx(
            "mq_open(O_CREAT|O_EXCL) of two names, one each way; the child's mq_open() of the same names; mq_unlink() of both; mq_send() and mq_timedreceive()",
            "mq_open(O_CREAT|O_EXCL) 创建两个名字，每个方向一个；子进程按同样的名字 mq_open()；mq_unlink() 两个名字；之后 mq_send() 和 mq_timedreceive()",
        ),
        Mechanism::Shm => tx(
            "memfd_create(), ftruncate() and mmap(MAP_SHARED) before the child started (it inherited the memfd and mapped it too); the message copied into the page by plain stores; futex(FUTEX_WAKE) and futex(FUTEX_WAIT) on a word of the page to wake the other side",
            "子进程启动前调用 memfd_create()、ftruncate() 和 mmap(MAP_SHARED)（子进程继承了这个 memfd，也映射了它）；消息用普通的内存写入复制进这一页；用这一页里一个字上的 futex(FUTEX_WAKE) 和 futex(FUTEX_WAIT) 叫醒对方",
        ),
        Mechanism::Signal => tx(
            "sigqueue(child, SIGUSR1, value); the child, with SIGUSR1 blocked, takes it with sigtimedwait() and answers with rt_tgsigqueueinfo(): sigqueue aimed at the parent's waiting thread",
            "sigqueue(子进程, SIGUSR1, 值)；子进程屏蔽了 SIGUSR1，用 sigtimedwait() 取走它，再用 rt_tgsigqueueinfo() 回复：这是发给父进程中正在等待的那个线程的 sigqueue",
        ),
        Mechanism::Tcp => tx(
            "socket(), bind(127.0.0.1:0), listen(); the child's connect(); accept(); TCP_NODELAY on both; write(), read(); close()",
            "socket()、bind(127.0.0.1:0)、listen()；子进程 connect()；accept()；两端 TCP_NODELAY；write()、read()；close()",
        ),
    }
}

/// What each mechanism is, said the first time it appears.
pub fn explain(m: Mechanism) -> Text {
    match m {
        Mechanism::Pipe => tx(
            "A pipe is a one-way byte stream inside the kernel, with no name: only processes that inherit its descriptors can use it, which is how a shell joins `a | b`. One pipe each way, and a 4-byte length before each message, since a stream keeps no boundaries (Q14).",
            "管道是内核里的单向字节流，没有名字：只有继承了它的描述符的进程才能用，shell 的 `a | b` 就是这样连起来的。每个方向一条；每条消息前加 4 字节长度，因为字节流不保留消息边界（Q14）。",
        ),
        Mechanism::Fifo => tx(
            "A FIFO is a pipe with a name in the file system, so unrelated processes can find it. The name matters only to open(): once both ends were open it was removed, and the bytes went on through the kernel, never through the disk.",
            "FIFO（命名管道）是在文件系统里有名字的管道，互不相关的进程也能找到它。名字只在 open() 时有用：两端都打开后名字就删掉了，数据照样经内核传递，从不经过磁盘。",
        ),
        Mechanism::UnixStream => tx(
            "A Unix domain socket has TCP's calls (listen, connect, accept) but a path for an address, and the kernel copies the bytes from one socket's buffer to the other's: no IP header, no checksum, no packet. Local servers such as databases listen on one.",
            "Unix 域套接字的调用和 TCP 一样（listen、connect、accept），但地址是一个路径，内核直接把字节从一个套接字的缓冲区复制到另一个：没有 IP 首部，没有校验和，也没有报文。数据库等本机服务常在上面监听。",
        ),
        Mechanism::UnixDgram => tx(
            "A datagram Unix socket keeps each message whole, as UDP does, so no length prefix is needed; unlike UDP it never drops or reorders one: when the receiver's queue is full, the kernel makes the sender wait.",
            "数据报型 Unix 套接字像 UDP 一样保持每条消息完整，所以不需要长度前缀；与 UDP 不同，它从不丢弃或打乱消息：接收队列满了，内核就让发送方等待。",
        ),
        Mechanism::Socketpair => tx(
            "socketpair() makes two Unix sockets already connected to each other: no name, no listen or accept. Like a pipe it reaches a child by inheritance, but one descriptor carries both directions.",
            "socketpair() 一次造出两个已经相连的 Unix 套接字：不需要名字，也不需要 listen 和 accept。它和管道一样靠继承交给子进程，但一个描述符就能双向收发。",
        ),
        Mechanism::Mqueue => tx(
            "A POSIX message queue keeps whole messages in the kernel under a name (listed in /dev/mqueue where that is mounted), with a size limit per message and a count limit per queue. The name can outlive both processes, so this run removed it as soon as both had the queue open.",
            "POSIX 消息队列在内核里按名字保存完整的消息（挂载了的话可在 /dev/mqueue 里看到），每条消息有大小上限，每个队列有条数上限。名字可以比两个进程都活得久，所以本次运行在双方都打开队列后立即删掉了它。",
        ),
        Mechanism::Shm => tx(
            "Shared memory is the one way where the message never passes through the kernel: both processes map the same page, and what one stores the other loads. But memory wakes no one: the reader must be told, here by a futex on a word of that page, and the wake-up is system calls again.",
            "共享内存是唯一一种消息不经过内核的方式：两个进程映射同一页内存，一方写入，另一方就能读到。但内存不会叫醒任何人：必须通知读方，这里用同一页里一个字上的 futex，而唤醒又要靠系统调用。",
        ),
        Mechanism::Signal => tx(
            "A signal interrupts a process, or wakes one that waits for it (here with sigtimedwait, the signal blocked). It carries its number and, sent with sigqueue(), one 8-byte value: a notification, not a channel for messages.",
            "信号会打断一个进程，或叫醒正在等它的进程（这里用 sigtimedwait，并屏蔽了该信号）。它只带自己的编号，用 sigqueue() 发送时再带一个 8 字节的值：这是通知，不是传消息的通道。",
        ),
        Mechanism::Tcp => tx(
            "The same echo through the network stack: each write becomes a TCP segment in an IP packet, out of lo and back into the same kernel, with a handshake, ACKs and a FIN. A capture of lo sees them all.",
            "同样的回送，这次穿过网络协议栈：每次写入都变成 IP 包里的一个 TCP 报文段，从 lo 出去，再回到同一个内核，还有握手、ACK 和 FIN。抓取 lo 就能全部看到。",
        ),
    }
}

/// What came back: byte for byte, or (a signal) the value.
pub fn delivered(ex: &Exchange, first: &[u8]) -> Text {
    let (k, same) = (ex.round_trips(), ex.replies_exact);
    let sums = if ex.checksum == ex.child_checksum {
        tx("checksums equal", "校验和一致")
    } else {
        tx(
            format!(
                "checksums differ: the child's {:016x}, the parent's {:016x}",
                ex.child_checksum, ex.checksum
            ),
            format!(
                "校验和不一致：子进程 {:016x}，父进程 {:016x}",
                ex.child_checksum, ex.checksum
            ),
        )
    };
    if let Some(v) = ex.first_value {
        return tx(
            format!(
                "no byte of it: SIGUSR1 carried the value {v:#018x} (the message's checksum) there and back; {same} of {k} unchanged; {}",
                sums.en
            ),
            format!(
                "消息本身一个字节也没传：SIGUSR1 带着值 {v:#018x}（消息的校验和）去了又回；{k} 个中 {same} 个原样返回；{}",
                sums.zh
            ),
        );
    }
    let text = String::from_utf8_lossy(first);
    tx(
        format!(
            "“{text}” ({} B) …: {same} of {k} echoes identical; {}",
            first.len(),
            sums.en
        ),
        format!(
            "“{text}”（{} B）…：{k} 次回送 {same} 次逐字节相同；{}",
            first.len(),
            sums.zh
        ),
    )
}

/// The intro step's title.
pub fn intro_title(parent: u32, child: u32) -> Text {
    tx(
        format!("netlab (pid {parent}) started its child (pid {child}): fork + exec of itself"),
        format!("netlab（pid {parent}）启动了子进程（pid {child}）：fork + exec 它自己"),
    )
}

/// The two processes.
pub fn processes(parent: u32, child: u32) -> Text {
    tx(
        format!(
            "parent {parent}, child {child} (`netlab ipc-peer`, in a process group of its own)"
        ),
        format!("父进程 {parent}，子进程 {child}（`netlab ipc-peer`，自成一个进程组）"),
    )
}

/// Where the run's network is, and its interfaces.
pub fn network(place: Place, interfaces: &[String]) -> Text {
    let list = interfaces.join(", ");
    match place {
        Place::Own => tx(
            format!("a network namespace of its own; its interfaces: {list}; lo captured throughout"),
            format!("独立的网络命名空间；其中的接口：{list}；全程抓取 lo"),
        ),
        Place::Host => tx(
            format!("the host's ({list}); not captured: that needs a network namespace of its own (root, or unprivileged user namespaces)"),
            format!("主机的网络（{list}）；未抓包：这需要独立的网络命名空间（root，或允许非特权用户命名空间）"),
        ),
    }
}

/// The messages sent.
pub fn messages(first: &[u8], k: usize) -> Text {
    let text = String::from_utf8_lossy(first);
    tx(
        format!("“{text}” … #{k}: {k} per mechanism, each echoed back by the child, which also keeps a checksum of all it received (FNV-1a), compared with the parent's at the end"),
        format!("“{text}” … #{k}：每种方式 {k} 条，子进程逐条回送，并对收到的全部内容算校验和（FNV-1a），最后与父进程的比对"),
    )
}

/// What a killed run had left, removed now.
pub fn removed(list: &[String]) -> Text {
    tx(
        format!("left by a killed run, removed now: {}", list.join(", ")),
        format!("被杀掉的上次运行留下的，现已删除：{}", list.join("，")),
    )
}

/// The TCP turn's segments by kind.
pub fn tally(t: &Tally) -> Text {
    tx(
        format!(
            "{} handshake, {} with data, {} bare ACKs, {} closing",
            t.handshake, t.data, t.acks, t.close
        ),
        format!(
            "握手 {} 个，带数据 {} 个，纯 ACK {} 个，关闭 {} 个",
            t.handshake, t.data, t.acks, t.close
        ),
    )
}

/// The TCP turn's two ends.
pub fn ports(parent: u16, child: u16) -> Text {
    tx(
        format!("parent 127.0.0.1:{parent} (listening), child 127.0.0.1:{child}"),
        format!("父进程 127.0.0.1:{parent}（监听），子进程 127.0.0.1:{child}"),
    )
}

/// What TCP's turn put on lo, beside the others.
pub fn tcp_on_lo(on_lo: Option<usize>, others_silent: bool) -> Text {
    match on_lo {
        Some(n) if n > 0 && others_silent => tx(
            format!("{n} frames: the only mechanism whose messages crossed an interface, readable by anyone who captures lo. TCP is not only for other machines; here it joined two processes on one"),
            format!("{n} 帧：唯一一种消息穿过了网络接口的方式，谁抓取 lo 都能读到。TCP 并非只用于不同的机器；这里它连接的是同一台机器上的两个进程"),
        ),
        Some(n) => tx(
            format!("{n} frames. TCP is not only for other machines; here it joined two processes on one"),
            format!("{n} 帧。TCP 并非只用于不同的机器；这里它连接的是同一台机器上的两个进程"),
        ),
        None => tx(
            "not captured (no network namespace of the run's own). TCP is not only for other machines; here it joined two processes on one",
            "未抓取（本次运行没有独立的网络命名空间）。TCP 并非只用于不同的机器；这里它连接的是同一台机器上的两个进程",
        ),
    }
}

/// The summary's title.
pub fn summary_title(n: usize, exact: usize, on_wire: &[Mechanism], captured: bool) -> Text {
    let all = if exact == n {
        tx(
            format!("{n} mechanisms, every message back exactly"),
            format!("{n} 种方式，每条消息都原样回来了"),
        )
    } else {
        tx(
            format!("{n} mechanisms, {exact} with every message back exactly"),
            format!("{n} 种方式，其中 {exact} 种的每条消息都原样回来了"),
        )
    };
    let wire = if !captured {
        tx("lo not captured", "未抓取 lo")
    } else if on_wire == [Mechanism::Tcp] {
        tx("only TCP put frames on lo", "只有 TCP 在 lo 上留下了帧")
    } else if on_wire.is_empty() {
        tx("none put frames on lo", "没有任何方式在 lo 上留下帧")
    } else {
        let names: Vec<Text> = on_wire.iter().map(|m| short(*m)).collect();
        tx(
            format!(
                "frames on lo from: {}",
                names
                    .iter()
                    .map(|t| t.en.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            format!(
                "在 lo 上留下帧的：{}",
                names
                    .iter()
                    .map(|t| t.zh.as_str())
                    .collect::<Vec<_>>()
                    .join("、")
            ),
        )
    };
    tx(
        format!("{}; {}", all.en, wire.en),
        format!("{}；{}", all.zh, wire.zh),
    )
}

/// The mechanisms from fastest to slowest median round trip, this run.
pub fn ranking(by_time: &[(Mechanism, f64)]) -> Text {
    let en: Vec<String> = by_time
        .iter()
        .map(|(m, t)| format!("{} {}", short(*m).en, us(*t)))
        .collect();
    let zh: Vec<String> = by_time
        .iter()
        .map(|(m, t)| format!("{} {}", short(*m).zh, us(*t)))
        .collect();
    tx(
        format!("Median round trip, fastest first: {}.", en.join(" · ")),
        format!("往返时间中位数，从快到慢：{}。", zh.join(" · ")),
    )
}

/// The closing line.
pub fn moral() -> Text {
    tx(
        "Every mechanism but TCP moved its bytes inside the kernel (shared memory: through memory both map) and left no packet on any interface.",
        "除 TCP 外，每种方式都在内核里传递字节（共享内存则经过双方都映射的内存），不在任何网络接口上留下报文。",
    )
}
