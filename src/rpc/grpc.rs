//! The same call as real gRPC: tonic's `client::Grpc` and `server::Grpc`
//! with prost messages, over hyper's HTTP/2 in cleartext (h2c).
//!
//! The messages are written by hand with `#[derive(prost::Message)]`, as
//! prost-build would generate them from this .proto, so no protoc and no
//! build script are needed:
//!
//! ```text
//! syntax = "proto3";
//! package netlab.rpc;
//! service Bank { rpc AddToBalance (AddRequest) returns (AddReply); }
//! message AddRequest { string account = 1; int64 amount = 2; }
//! message AddReply   { int64 balance = 1; }
//! ```
//!
//! tonic's transport layer (its tower stack and router) is left out: the
//! client is one hyper HTTP/2 connection wrapped as a service, the server
//! hyper's HTTP/2 connection handing each request to `server::Grpc::unary`.
//! What crosses the wire is the same HTTP/2 either way.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::{TcpListener, TcpStream};

use super::{ACCOUNT, AMOUNT, HOST, TIMEOUT};
use crate::error::{Error, Result};

/// The method's path: `/package.Service/Method`, as HEADERS' `:path` carries it.
pub const PATH: &str = "/netlab.rpc.Bank/AddToBalance";

/// `message AddRequest { string account = 1; int64 amount = 2; }`
#[derive(Clone, PartialEq, prost::Message)]
pub struct AddRequest {
    /// Whose balance.
    #[prost(string, tag = "1")]
    pub account: String,
    /// How much to add.
    #[prost(int64, tag = "2")]
    pub amount: i64,
}

/// `message AddReply { int64 balance = 1; }`
#[derive(Clone, PartialEq, prost::Message)]
pub struct AddReply {
    /// The balance after the call.
    #[prost(int64, tag = "1")]
    pub balance: i64,
}

/// The protobuf field names of what the client sends, for the byte view.
pub fn request_names() -> Vec<(u32, &'static str)> {
    vec![(1, "account"), (2, "amount")]
}

/// The protobuf field names of what the server sends.
pub fn reply_names() -> Vec<(u32, &'static str)> {
    vec![(1, "balance")]
}

/// The gRPC call as the client saw it.
#[derive(Clone, Debug)]
pub struct GrpcCall {
    /// When the call was made.
    pub sent: SystemTime,
    /// Until the reply (or the error).
    pub elapsed: Duration,
    /// The gRPC status code the client got (0: OK).
    pub status: i32,
    /// The balance in the reply.
    pub balance: Option<i64>,
    /// The client's port.
    pub client_port: u16,
}

/// The server's part of `AddToBalance`: one balance, added to.
#[derive(Clone)]
struct AddToBalance(Arc<Mutex<i64>>);

type Reply = std::result::Result<tonic::Response<AddReply>, tonic::Status>;

impl tonic::server::UnaryService<AddRequest> for AddToBalance {
    type Response = AddReply;
    type Future = Pin<Box<dyn Future<Output = Reply> + Send>>;

    fn call(&mut self, req: tonic::Request<AddRequest>) -> Self::Future {
        let bank = self.0.clone();
        Box::pin(async move {
            let r = req.into_inner();
            let mut b = bank
                .lock()
                .map_err(|_| tonic::Status::internal("the balance's lock was poisoned"))?;
            *b += r.amount;
            Ok(tonic::Response::new(AddReply { balance: *b }))
        })
    }
}

/// Start the gRPC server on `port`: every connection is served by hyper's
/// HTTP/2, every request on `PATH` by tonic.
pub async fn serve(port: u16) -> Result<()> {
    let addr = SocketAddr::from((HOST, port));
    let l = TcpListener::bind(addr).await.map_err(|e| Error::Bind {
        addr: addr.to_string(),
        source: e,
    })?;
    let bank = AddToBalance(Arc::new(Mutex::new(0)));
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            let _ = s.set_nodelay(true);
            let bank = bank.clone();
            let svc =
                hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let bank = bank.clone();
                    async move {
                        let resp = if req.uri().path() == PATH {
                            let codec = tonic_prost::ProstCodec::<AddReply, AddRequest>::default();
                            tonic::server::Grpc::new(codec).unary(bank, req).await
                        } else {
                            tonic::Status::unimplemented(req.uri().path().to_string()).into_http()
                        };
                        Ok::<_, std::convert::Infallible>(resp)
                    }
                });
            tokio::spawn(async move {
                let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(s), svc)
                    .await;
            });
        }
    });
    Ok(())
}

/// One HTTP/2 connection as the service tonic's client sends through.
struct H2(hyper::client::conn::http2::SendRequest<tonic::body::Body>);

type Sent = std::result::Result<http::Response<hyper::body::Incoming>, hyper::Error>;

impl tower_service::Service<http::Request<tonic::body::Body>> for H2 {
    type Response = http::Response<hyper::body::Incoming>;
    type Error = hyper::Error;
    type Future = Pin<Box<dyn Future<Output = Sent> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<std::result::Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<tonic::body::Body>) -> Self::Future {
        Box::pin(self.0.send_request(req))
    }
}

/// Call `AddToBalance` once over a new connection, then close it.
pub async fn call(port: u16) -> Result<GrpcCall> {
    let addr = SocketAddr::from((HOST, port));
    let io = |op: &'static str| {
        move |e: std::io::Error| Error::Socket {
            op,
            addr: addr.to_string(),
            source: e,
        }
    };
    let s = TcpStream::connect(addr).await.map_err(io("connect to"))?;
    s.set_nodelay(true).map_err(io("set TCP_NODELAY on"))?;
    let client_port = s.local_addr().map_err(io("read the address of"))?.port();
    let (send, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(s))
        .await
        .map_err(|e| Error::Internal(format!("HTTP/2 handshake with {addr}: {e}")))?;
    let driver = tokio::spawn(conn);
    let origin: http::Uri = format!("http://{addr}")
        .parse()
        .map_err(|e| Error::Internal(format!("{e}")))?;
    let mut grpc = tonic::client::Grpc::with_origin(H2(send), origin);
    let mut req = tonic::Request::new(AddRequest {
        account: ACCOUNT.into(),
        amount: AMOUNT,
    });
    // A deadline, as part 1's timeout: gRPC sends it as the grpc-timeout header.
    req.set_timeout(TIMEOUT);
    let sent = SystemTime::now();
    grpc.ready()
        .await
        .map_err(|e| Error::Internal(format!("gRPC connection to {addr}: {e}")))?;
    let codec = tonic_prost::ProstCodec::<AddRequest, AddReply>::default();
    let got = grpc
        .unary(req, http::uri::PathAndQuery::from_static(PATH), codec)
        .await;
    let elapsed = SystemTime::now().duration_since(sent).unwrap_or_default();
    let (status, balance) = match got {
        Ok(r) => (0, Some(r.into_inner().balance)),
        Err(s) => (s.code() as i32, None),
    };
    // The last handle gone, hyper closes the connection (GOAWAY, then FIN).
    drop(grpc);
    let _ = tokio::time::timeout(Duration::from_secs(2), driver).await;
    Ok(GrpcCall {
        sent,
        elapsed,
        status,
        balance,
        client_port,
    })
}
