//! A fault-injecting TCP proxy on loopback, between real clients and a real server: each new
//! connection gets the fault the test set at that moment (pass, pass slowly as over a mobile
//! link, cut the request partway, cut the reply after the server has answered, hold the
//! connection, or refuse it), so
//! partitions, flapping links and cuts mid-upload happen at the socket, where the client's
//! and server's own code has to cope with them.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the proxy does to the next connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Pass everything through.
    Pass,
    /// Forward only this many bytes of the request, then close both sides (a cut
    /// mid-upload).
    CutRequestAfter(usize),
    /// Forward the whole exchange to the server but close the client's side before any of
    /// the reply reaches it (the server applied the batch, the client never saw the ack).
    DropReply,
    /// Accept and say nothing for this long, then close (a held message).
    Hold(Duration),
    /// Refuse at once (a partition).
    Refuse,
    /// Pass everything, slowly: each chunk waits half the round trip and the time its bytes
    /// take at the given rate (a slow mobile link; this kernel has no `netem`).
    Shaped {
        /// Round trip, milliseconds.
        rtt_ms: u64,
        /// Bytes per second in each direction.
        bytes_per_sec: u64,
    },
}

struct Shared {
    fault: Mutex<Fault>,
    stop: AtomicBool,
    connections: AtomicU64,
    faulted: AtomicU64,
    live: AtomicUsize,
}

/// A running proxy; stops when dropped.
pub struct Proxy {
    /// `http://127.0.0.1:<port>`, to give clients instead of the server's URL.
    pub url: String,
    shared: Arc<Shared>,
}

impl Proxy {
    /// Starts a proxy to the server at `upstream` (`http://host:port`).
    pub fn start(upstream: &str) -> Proxy {
        let target = upstream.trim_start_matches("http://").to_string();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let shared = Arc::new(Shared {
            fault: Mutex::new(Fault::Pass),
            stop: AtomicBool::new(false),
            connections: AtomicU64::new(0),
            faulted: AtomicU64::new(0),
            live: AtomicUsize::new(0),
        });
        let s = shared.clone();
        listener.set_nonblocking(true).unwrap();
        std::thread::spawn(move || {
            while !s.stop.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((client, _)) => {
                        client.set_nonblocking(false).unwrap();
                        let fault = *s.fault.lock().unwrap();
                        s.connections.fetch_add(1, Ordering::SeqCst);
                        if fault != Fault::Pass {
                            s.faulted.fetch_add(1, Ordering::SeqCst);
                        }
                        let (s2, target) = (s.clone(), target.clone());
                        s.live.fetch_add(1, Ordering::SeqCst);
                        std::thread::spawn(move || {
                            handle(client, &target, fault, s2.clone());
                            s2.live.fetch_sub(1, Ordering::SeqCst);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        Proxy { url, shared }
    }

    /// Sets what happens to connections opened from now on.
    pub fn set(&self, fault: Fault) {
        *self.shared.fault.lock().unwrap() = fault;
    }

    /// Connections seen, and how many of them were given a fault.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.shared.connections.load(Ordering::SeqCst),
            self.shared.faulted.load(Ordering::SeqCst),
        )
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
    }
}

/// Copies `from` to `to` until either side closes, `limit` bytes have passed, or `cut`
/// says the link went down; returns the bytes copied.
fn pump(
    mut from: TcpStream,
    mut to: TcpStream,
    limit: Option<usize>,
    shape: Option<(u64, u64)>,
    cut: &dyn Fn() -> bool,
) -> usize {
    let mut buf = [0u8; 16 * 1024];
    let mut total = 0;
    let _ = from.set_read_timeout(Some(Duration::from_millis(20)));
    let mut idle = 0;
    loop {
        if cut() {
            let _ = from.shutdown(Shutdown::Both);
            break;
        }
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                // A request shorter than the cut point went through whole: cut it now.
                idle += 1;
                if limit.is_some() && idle >= 10 {
                    break;
                }
                continue;
            }
            Err(_) => break,
        };
        idle = 0;
        let n = match limit {
            Some(l) if total + n >= l => {
                let _ = to.write_all(&buf[..l - total]);
                total = l;
                break;
            }
            _ => n,
        };
        if let Some((rtt_ms, rate)) = shape {
            let transfer = n as u64 * 1000 / rate.max(1);
            std::thread::sleep(Duration::from_millis(rtt_ms / 2 + transfer));
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
        total += n;
    }
    let _ = to.shutdown(Shutdown::Write);
    total
}

fn handle(client: TcpStream, target: &str, fault: Fault, shared: Arc<Shared>) {
    match fault {
        Fault::Refuse => {
            let _ = client.shutdown(Shutdown::Both);
        }
        Fault::Hold(d) => {
            std::thread::sleep(d);
            let _ = client.shutdown(Shutdown::Both);
        }
        Fault::Pass | Fault::CutRequestAfter(_) | Fault::DropReply | Fault::Shaped { .. } => {
            let Ok(server) = TcpStream::connect(target) else {
                let _ = client.shutdown(Shutdown::Both);
                return;
            };
            let (c_read, s_write) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            let limit = match fault {
                Fault::CutRequestAfter(n) => Some(n),
                _ => None,
            };
            let shape = match fault {
                Fault::Shaped {
                    rtt_ms,
                    bytes_per_sec,
                } => Some((rtt_ms, bytes_per_sec)),
                _ => None,
            };
            // A link that was up goes down with the next fault set (a partition cuts open
            // connections too).
            let cut = {
                let shared = shared.clone();
                move || {
                    matches!(fault, Fault::Pass | Fault::Shaped { .. })
                        && *shared.fault.lock().unwrap() != fault
                }
            };
            let cut2 = cut.clone();
            let up = std::thread::spawn(move || pump(c_read, s_write, limit, shape, &cut2));
            match fault {
                Fault::CutRequestAfter(_) => {
                    let _ = up.join();
                    let _ = client.shutdown(Shutdown::Both);
                    let _ = server.shutdown(Shutdown::Both);
                }
                Fault::DropReply => {
                    // Let the server read the request and answer, then discard the answer.
                    let mut sink = server.try_clone().unwrap();
                    let mut buf = [0u8; 16 * 1024];
                    let _ = sink.set_read_timeout(Some(Duration::from_secs(10)));
                    let _ = sink.read(&mut buf);
                    let _ = client.shutdown(Shutdown::Both);
                    let _ = server.shutdown(Shutdown::Both);
                    let _ = up.join();
                }
                _ => {
                    pump(server, client, None, shape, &cut);
                    let _ = up.join();
                }
            }
        }
    }
}
