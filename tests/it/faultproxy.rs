//! A fault-injecting HTTP/1.1 proxy on loopback, between git-ml and a real server (SeaweedFS,
//! Azurite): it forwards every request untouched until told to break some of them.
//!
//! Each request gets a connection of its own (the proxy asks both sides for `Connection: close`,
//! a hop-by-hop header no signature covers), so "the first N requests" is exact and a broken
//! connection never carries a second request. A fault is applied to the requests a filter
//! matches, to the first N of them or to every one, and the proxy counts the faults it actually
//! applied: a test asserts that count, so a fault that never fired cannot pass for one that was
//! survived. Body faults cut the request body when there is one (an upload), else the response
//! body (a download); they apply only where there is a body to cut.

#![allow(dead_code)]

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the proxy does to a request it breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Read the request head, then close the connection without an answer.
    Drop,
    /// Read the request and never answer; the connection stays open until the proxy is dropped.
    Stall,
    /// Forward half of the body (the upload's or the download's), then reset the connection
    /// (RST) on both sides.
    ResetMidBody,
    /// Forward half of the body, then close cleanly (FIN): a body shorter than its
    /// `Content-Length`, as a cut line or a crashed server leaves it.
    Truncate,
    /// Forward the bodies both ways `chunk` bytes at a time with `delay_ms` between the pieces:
    /// a slow link that still moves.
    Trickle { chunk: usize, delay_ms: u64 },
}

impl Fault {
    fn cuts_body(self) -> bool {
        matches!(
            self,
            Fault::ResetMidBody | Fault::Truncate | Fault::Trickle { .. }
        )
    }
}

/// The request line, for filters.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
}

type Filter = Box<dyn Fn(&Request) -> bool + Send + Sync>;

struct Plan {
    fault: Option<Fault>,
    /// How many more matching requests to break; `None`: every one.
    left: Option<usize>,
    filter: Filter,
}

struct State {
    upstream: SocketAddr,
    plan: Mutex<Plan>,
    requests: AtomicUsize,
    faulted: AtomicUsize,
    stop: AtomicBool,
    /// Stalled connections, held open until the proxy goes.
    held: Mutex<Vec<TcpStream>>,
}

pub struct FaultProxy {
    port: u16,
    state: Arc<State>,
}

impl FaultProxy {
    /// A proxy in front of `127.0.0.1:upstream_port`, passing everything through.
    pub fn start(upstream_port: u16) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(State {
            upstream: SocketAddr::from(([127, 0, 0, 1], upstream_port)),
            plan: Mutex::new(Plan {
                fault: None,
                left: None,
                filter: Box::new(|_| true),
            }),
            requests: AtomicUsize::new(0),
            faulted: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            held: Mutex::new(Vec::new()),
        });
        let s = state.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let s = s.clone();
                std::thread::spawn(move || {
                    let _ = handle(&s, conn);
                });
            }
        });
        FaultProxy { port, state }
    }

    /// `http://127.0.0.1:PORT`, for a remote's `endpoint`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Break the first `n` requests that `filter` matches (from now on) with `fault`.
    pub fn first(
        &self,
        n: usize,
        fault: Fault,
        filter: impl Fn(&Request) -> bool + Send + Sync + 'static,
    ) {
        self.set(Some(fault), Some(n), Box::new(filter));
    }

    /// Break every request that `filter` matches with `fault`.
    pub fn always(&self, fault: Fault, filter: impl Fn(&Request) -> bool + Send + Sync + 'static) {
        self.set(Some(fault), None, Box::new(filter));
    }

    /// Pass everything through again.
    pub fn heal(&self) {
        self.set(None, None, Box::new(|_| true));
    }

    fn set(&self, fault: Option<Fault>, left: Option<usize>, filter: Filter) {
        *self.state.plan.lock().unwrap() = Plan {
            fault,
            left,
            filter,
        };
        self.state.faulted.store(0, Ordering::SeqCst);
    }

    /// Faults applied since the last `first`/`always`/`heal`.
    pub fn faulted(&self) -> usize {
        self.state.faulted.load(Ordering::SeqCst)
    }

    /// Requests seen since the proxy started.
    pub fn requests(&self) -> usize {
        self.state.requests.load(Ordering::SeqCst)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        for c in self.state.held.lock().unwrap().drain(..) {
            let _ = c.shutdown(Shutdown::Both);
        }
    }
}

/// Whether this request is broken, and how; `has_body`: there is a body for a body fault to cut.
fn take(state: &State, req: &Request, has_body: bool, body_phase: bool) -> Option<Fault> {
    let mut plan = state.plan.lock().unwrap();
    let fault = plan.fault?;
    if fault.cuts_body() != body_phase || (body_phase && !has_body) || !(plan.filter)(req) {
        return None;
    }
    match &mut plan.left {
        Some(0) => return None,
        Some(n) => *n -= 1,
        None => {}
    }
    state.faulted.fetch_add(1, Ordering::SeqCst);
    Some(fault)
}

const HEAD_LIMIT: usize = 64 * 1024;

/// Read up to the end of an HTTP head; returns (head, bytes read past it).
fn read_head(s: &mut TcpStream) -> std::io::Result<Option<(Vec<u8>, Vec<u8>)>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            return Ok(Some((buf, rest)));
        }
        if buf.len() > HEAD_LIMIT {
            return Err(std::io::Error::other("head too long"));
        }
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn content_length(head: &str) -> Option<u64> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| v.trim().parse().ok())?
    })
}

/// The head with any `Connection` header replaced by `Connection: close`.
fn closing(head: &str) -> Vec<u8> {
    let mut out = String::new();
    for line in head.trim_end_matches("\r\n").split("\r\n") {
        if line
            .split_once(':')
            .is_some_and(|(k, _)| k.trim().eq_ignore_ascii_case("connection"))
        {
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("Connection: close\r\n\r\n");
    out.into_bytes()
}

fn reset(s: &TcpStream) {
    // SO_LINGER 0: close sends RST instead of FIN.
    let _ = socket2::SockRef::from(s).set_linger(Some(Duration::ZERO));
    let _ = s.shutdown(Shutdown::Both);
}

/// Copy `limit` bytes (all, if `None`) from `from` to `to`, `trickle` paced.
fn copy(
    from: &mut TcpStream,
    to: &mut TcpStream,
    limit: Option<u64>,
    trickle: Option<(usize, u64)>,
) -> std::io::Result<u64> {
    let mut buf = vec![0u8; trickle.map_or(64 * 1024, |t| t.0)];
    let mut done = 0u64;
    loop {
        let want = match limit {
            Some(l) if done >= l => return Ok(done),
            Some(l) => buf.len().min((l - done) as usize),
            None => buf.len(),
        };
        let n = match from.read(&mut buf[..want]) {
            Ok(0) => return Ok(done),
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        to.write_all(&buf[..n])?;
        done += n as u64;
        if let Some((_, ms)) = trickle {
            std::thread::sleep(Duration::from_millis(ms));
        }
    }
}

fn write_paced(
    to: &mut TcpStream,
    bytes: &[u8],
    trickle: Option<(usize, u64)>,
) -> std::io::Result<()> {
    match trickle {
        None => to.write_all(bytes),
        Some((chunk, ms)) => {
            for piece in bytes.chunks(chunk.max(1)) {
                to.write_all(piece)?;
                std::thread::sleep(Duration::from_millis(ms));
            }
            Ok(())
        }
    }
}

fn handle(state: &State, mut client: TcpStream) -> std::io::Result<()> {
    if state.stop.load(Ordering::SeqCst) {
        return Ok(());
    }
    // No thread outlives a test by long, whatever the client does.
    client.set_read_timeout(Some(Duration::from_secs(120)))?;
    let Some((head, mut early)) = read_head(&mut client)? else {
        return Ok(());
    };
    state.requests.fetch_add(1, Ordering::SeqCst);
    let text = String::from_utf8_lossy(&head).into_owned();
    let mut words = text.split_whitespace();
    let req = Request {
        method: words.next().unwrap_or_default().to_string(),
        target: words.next().unwrap_or_default().to_string(),
    };
    let req_len = content_length(&text).unwrap_or(0);
    match take(state, &req, false, false) {
        Some(Fault::Drop) => {
            let _ = client.shutdown(Shutdown::Both);
            return Ok(());
        }
        Some(Fault::Stall) => {
            state.held.lock().unwrap().push(client);
            return Ok(());
        }
        _ => {}
    }
    let mut upstream = TcpStream::connect(state.upstream)?;
    upstream.set_read_timeout(Some(Duration::from_secs(120)))?;
    upstream.write_all(&closing(&text))?;
    // A fault on the upload cuts the request body; otherwise the body goes up whole.
    let up_fault = take(state, &req, req_len > 0, true);
    let trickle = |f: Option<Fault>| match f {
        Some(Fault::Trickle { chunk, delay_ms }) => Some((chunk, delay_ms)),
        _ => None,
    };
    match up_fault {
        Some(f @ (Fault::ResetMidBody | Fault::Truncate)) => {
            let half = req_len / 2;
            let from_early = (early.len() as u64).min(half) as usize;
            upstream.write_all(&early[..from_early])?;
            copy(
                &mut client,
                &mut upstream,
                Some(half - from_early as u64),
                None,
            )?;
            if f == Fault::ResetMidBody {
                reset(&upstream);
                reset(&client);
            } else {
                let _ = upstream.shutdown(Shutdown::Write);
                // Whatever the server makes of a short body, the client hears nothing back.
                let _ = client.shutdown(Shutdown::Both);
            }
            return Ok(());
        }
        f => {
            let pace = trickle(f);
            let rest = req_len.saturating_sub(early.len() as u64);
            early.truncate(req_len as usize);
            write_paced(&mut upstream, &early, pace)?;
            copy(&mut client, &mut upstream, Some(rest), pace)?;
        }
    }
    // The response.
    let Some((rhead, rearly)) = read_head(&mut upstream)? else {
        let _ = client.shutdown(Shutdown::Both);
        return Ok(());
    };
    let rtext = String::from_utf8_lossy(&rhead).into_owned();
    let status: u16 = rtext
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body_len = if req.method == "HEAD" || status == 204 || status == 304 {
        Some(0)
    } else {
        content_length(&rtext)
    };
    let has_body = (200..300).contains(&status) && body_len.is_some_and(|l| l > 0);
    let down_fault = if up_fault.is_none() {
        take(state, &req, has_body, true)
    } else {
        None
    };
    client.write_all(&closing(&rtext))?;
    match down_fault {
        Some(f @ (Fault::ResetMidBody | Fault::Truncate)) => {
            let half = body_len.unwrap_or(0) / 2;
            let from_early = (rearly.len() as u64).min(half) as usize;
            client.write_all(&rearly[..from_early])?;
            copy(
                &mut upstream,
                &mut client,
                Some(half - from_early as u64),
                None,
            )?;
            client.flush()?;
            if f == Fault::ResetMidBody {
                reset(&client);
            } else {
                let _ = client.shutdown(Shutdown::Both);
            }
        }
        f => {
            let pace = trickle(f).or(trickle(up_fault));
            // To the end the head announces, else to the server's close.
            let mut rearly = rearly;
            let rest = body_len.map(|l| {
                rearly.truncate(l as usize);
                l - rearly.len() as u64
            });
            write_paced(&mut client, &rearly, pace)?;
            copy(&mut upstream, &mut client, rest, pace)?;
            let _ = client.shutdown(Shutdown::Write);
        }
    }
    Ok(())
}
