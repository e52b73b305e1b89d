//! A network link emulated in userspace, between a client and a server on loopback.
//!
//! This kernel has no `netem`, so the benchmarks shape their traffic here instead: every
//! byte between client and server passes through a proxy that delays it by half the round
//! trip, paces it at the link's rate (one rate per direction, shared by all connections, as
//! one radio is), loses segments at random and can cut a connection partway. The same proxy
//! counts what crossed it, HTTP headers included, so every system under test is measured
//! the same way.
//!
//! Loss is modelled as TCP experiences it: a lost segment crosses the link twice and
//! arrives one retransmission timeout late (the round trip plus Linux's 200 ms minimum),
//! and the segments behind it on that connection wait for it. Congestion-window halving is
//! not modelled, so lossy figures are a lower bound.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};

/// TCP's payload per segment on a 1,500-byte path.
const SEGMENT: usize = 1448;
/// Linux's minimum retransmission timeout.
const MIN_RTO: Duration = Duration::from_millis(200);

/// The character of a link.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Profile {
    /// Its name in reports.
    pub name: &'static str,
    /// Round-trip time.
    pub rtt: Duration,
    /// Server-to-client rate in bits per second; 0 is unlimited.
    pub down_bps: u64,
    /// Client-to-server rate in bits per second; 0 is unlimited.
    pub up_bps: u64,
    /// Probability that a segment is lost (0 to 1).
    pub loss: f64,
}

impl Profile {
    /// Loopback as it is: no delay, no limit, no loss.
    pub const LOOPBACK: Profile = Profile {
        name: "loopback",
        rtt: Duration::ZERO,
        down_bps: 0,
        up_bps: 0,
        loss: 0.0,
    };
    /// "Slow 4G" as PERFORMANCE.md gives it: 150 ms round trip, 1.6 Mbit/s down,
    /// 750 kbit/s up.
    pub const SLOW_4G: Profile = Profile {
        name: "Slow 4G",
        rtt: Duration::from_millis(150),
        down_bps: 1_600_000,
        up_bps: 750_000,
        loss: 0.0,
    };
    /// EDGE within PERFORMANCE.md's range (120-240 kbit/s, 80-400 ms): 200 kbit/s down,
    /// 120 kbit/s up, 300 ms round trip.
    pub const EDGE: Profile = Profile {
        name: "EDGE",
        rtt: Duration::from_millis(300),
        down_bps: 200_000,
        up_bps: 120_000,
        loss: 0.0,
    };
    /// Slow 4G losing one segment in ten.
    pub const LOSSY: Profile = Profile {
        name: "Slow 4G, 10% loss",
        loss: 0.10,
        ..Profile::SLOW_4G
    };

    /// The least time an exchange can take on this link: its bytes at the link's rates plus
    /// one round trip per request the protocol needs.
    pub fn floor(&self, totals: &Totals) -> Duration {
        let at = |bytes: u64, bps: u64| {
            if bps == 0 {
                Duration::ZERO
            } else {
                Duration::from_secs_f64(bytes as f64 * 8.0 / bps as f64)
            }
        };
        at(totals.down, self.down_bps)
            + at(totals.up, self.up_bps)
            + self.rtt * totals.requests as u32
    }

    fn rate(&self, dir: Dir) -> u64 {
        match dir {
            Dir::Up => self.up_bps,
            Dir::Down => self.down_bps,
        }
    }
}

/// What crossed a link since it was last read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Client-to-server bytes, headers included.
    pub up: u64,
    /// Server-to-client bytes, headers included.
    pub down: u64,
    /// Requests: runs of client-to-server bytes.
    pub requests: u64,
    /// Connections opened.
    pub connections: u64,
    /// The largest message: the longest run of bytes in one direction on one connection.
    pub largest: u64,
    /// Bytes of lost segments, sent a second time by the emulated TCP.
    pub retransmitted: u64,
    /// Connections the link cut.
    pub cuts: u64,
}

impl Totals {
    /// Bytes both ways.
    pub fn bytes(&self) -> u64 {
        self.up + self.down
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Dir {
    Up,
    Down,
}

#[derive(Default)]
struct Counters {
    up: AtomicU64,
    down: AtomicU64,
    requests: AtomicU64,
    connections: AtomicU64,
    largest: AtomicU64,
    retransmitted: AtomicU64,
    cuts: AtomicU64,
    /// Cut the connection whose downstream bytes reach this total; `u64::MAX` for never.
    cut_at: AtomicU64,
}

struct Shared {
    profile: Profile,
    counters: Counters,
    /// When each direction's radio is next free.
    free: [Mutex<Instant>; 2],
    rng: Mutex<rand::rngs::StdRng>,
}

/// A running link; it serves until the process ends.
pub struct Link {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl Link {
    /// Starts a link to `target` with `profile`; `seed` makes its losses repeatable.
    pub fn start(target: SocketAddr, profile: Profile, seed: u64) -> std::io::Result<Link> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let now = Instant::now();
        let shared = Arc::new(Shared {
            profile,
            counters: Counters {
                cut_at: AtomicU64::new(u64::MAX),
                ..Default::default()
            },
            free: [Mutex::new(now), Mutex::new(now)],
            rng: Mutex::new(rand::rngs::StdRng::seed_from_u64(seed)),
        });
        let s = shared.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(target) else {
                    continue;
                };
                s.counters.connections.fetch_add(1, Ordering::Relaxed);
                connect(client, server, s.clone());
            }
        });
        Ok(Link { addr, shared })
    }

    /// `http://` and the link's address, to give clients instead of the server's.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The link's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The link's profile.
    pub fn profile(&self) -> Profile {
        self.shared.profile
    }

    /// Cuts the connection that carries the `n`th server-to-client byte from now (once).
    pub fn cut_after(&self, n: u64) {
        let c = &self.shared.counters;
        c.cut_at
            .store(c.down.load(Ordering::Relaxed) + n, Ordering::Relaxed);
    }

    /// What crossed the link since the last call; starts counting afresh.
    pub fn take(&self) -> Totals {
        let c = &self.shared.counters;
        let down = c.down.swap(0, Ordering::Relaxed);
        let cut_at = c.cut_at.load(Ordering::Relaxed);
        if cut_at != u64::MAX {
            c.cut_at
                .store(cut_at.saturating_sub(down), Ordering::Relaxed);
        }
        Totals {
            up: c.up.swap(0, Ordering::Relaxed),
            down,
            requests: c.requests.swap(0, Ordering::Relaxed),
            connections: c.connections.swap(0, Ordering::Relaxed),
            largest: c.largest.swap(0, Ordering::Relaxed),
            retransmitted: c.retransmitted.swap(0, Ordering::Relaxed),
            cuts: c.cuts.swap(0, Ordering::Relaxed),
        }
    }
}

/// The run of bytes a connection is in the middle of: its direction and length.
type Run = Arc<Mutex<(Option<Dir>, u64)>>;

fn connect(client: TcpStream, server: TcpStream, shared: Arc<Shared>) {
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let run: Run = Arc::new(Mutex::new((None, 0)));
    for (dir, from, to) in [(Dir::Up, &client, &server), (Dir::Down, &server, &client)] {
        let (Ok(from), Ok(to), Ok(a), Ok(b)) = (
            from.try_clone(),
            to.try_clone(),
            client.try_clone(),
            server.try_clone(),
        ) else {
            return;
        };
        let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
        let (s, r) = (shared.clone(), run.clone());
        std::thread::spawn(move || read_side(dir, from, tx, s, r, [a, b]));
        let s = shared.clone();
        std::thread::spawn(move || write_side(dir, to, rx, s));
    }
}

/// Reads one direction, counts it, and hands its segments to the writer with their time.
fn read_side(
    dir: Dir,
    mut from: TcpStream,
    tx: mpsc::Sender<(Instant, Vec<u8>)>,
    shared: Arc<Shared>,
    run: Run,
    ends: [TcpStream; 2],
) {
    let c = &shared.counters;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let now = Instant::now();
        {
            let mut r = run.lock().unwrap_or_else(|e| e.into_inner());
            if r.0 != Some(dir) {
                *r = (Some(dir), 0);
                if dir == Dir::Up {
                    c.requests.fetch_add(1, Ordering::Relaxed);
                }
            }
            r.1 += n as u64;
            c.largest.fetch_max(r.1, Ordering::Relaxed);
        }
        let total = match dir {
            Dir::Up => c.up.fetch_add(n as u64, Ordering::Relaxed) + n as u64,
            Dir::Down => c.down.fetch_add(n as u64, Ordering::Relaxed) + n as u64,
        };
        if dir == Dir::Down && total >= c.cut_at.load(Ordering::Relaxed) {
            c.cut_at.store(u64::MAX, Ordering::Relaxed);
            c.cuts.fetch_add(1, Ordering::Relaxed);
            for end in &ends {
                let _ = end.shutdown(Shutdown::Both);
            }
            return;
        }
        for segment in buf[..n].chunks(SEGMENT) {
            if tx.send((now, segment.to_vec())).is_err() {
                return;
            }
        }
    }
}

/// Delivers one direction's segments when the emulated link would have.
fn write_side(
    dir: Dir,
    mut to: TcpStream,
    rx: mpsc::Receiver<(Instant, Vec<u8>)>,
    shared: Arc<Shared>,
) {
    let p = shared.profile;
    let rate = p.rate(dir);
    let on_air = |len: usize| {
        if rate == 0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(len as f64 * 8.0 / rate as f64)
        }
    };
    let mut last = Instant::now();
    for (arrived, segment) in rx {
        let lost = p.loss > 0.0
            && shared
                .rng
                .lock()
                .map(|mut r| r.random::<f64>() < p.loss)
                .unwrap_or(false);
        let sent = {
            let mut free = shared.free[dir as usize]
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let start = (*free).max(arrived);
            *free = start + on_air(segment.len());
            if lost {
                // The segment goes again once the sender notices it missing.
                *free += on_air(segment.len());
            }
            *free
        };
        let mut deliver = sent + p.rtt / 2;
        if lost {
            shared
                .counters
                .retransmitted
                .fetch_add(segment.len() as u64, Ordering::Relaxed);
            deliver += p.rtt + MIN_RTO;
        }
        deliver = deliver.max(last);
        last = deliver;
        let wait = deliver.saturating_duration_since(Instant::now());
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
        if to.write_all(&segment).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// An echo server: answers each read with the same bytes.
    fn echo() -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        std::thread::spawn(move || {
            for mut s in l.incoming().flatten() {
                std::thread::spawn(move || {
                    let mut buf = [0u8; 4096];
                    while let Ok(n) = s.read(&mut buf) {
                        if n == 0 || s.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                });
            }
        });
        addr
    }

    fn exchange(link: &Link, bytes: usize) -> std::io::Result<Vec<u8>> {
        let mut s = TcpStream::connect(link.addr())?;
        let sent: Vec<u8> = (0..bytes).map(|i| i as u8).collect();
        s.write_all(&sent)?;
        let mut got = vec![0u8; bytes];
        s.read_exact(&mut got)?;
        assert_eq!(got, sent, "the link delivers every byte in order");
        Ok(got)
    }

    #[test]
    fn a_shaped_link_delays_paces_and_counts() {
        let profile = Profile {
            name: "test",
            rtt: Duration::from_millis(100),
            down_bps: 800_000,
            up_bps: 800_000,
            loss: 0.0,
        };
        let link = Link::start(echo(), profile, 1).unwrap();
        let t = Instant::now();
        exchange(&link, 20_000).unwrap();
        let took = t.elapsed();
        let totals = link.take();
        assert_eq!((totals.up, totals.down), (20_000, 20_000));
        assert_eq!(totals.connections, 1);
        assert!(totals.requests >= 1);
        // 20 KB each way at 100 KB/s plus a round trip: at least 0.4 s + 0.1 s.
        let floor = profile.floor(&Totals {
            requests: 1,
            ..totals
        });
        assert!(floor >= Duration::from_millis(500), "{floor:?}");
        assert!(took >= Duration::from_millis(250), "took {took:?}");
        assert_eq!(link.take(), Totals::default(), "take starts afresh");
    }

    #[test]
    fn a_lossy_link_resends_and_a_cut_closes_the_connection() {
        let lossy = Profile {
            loss: 0.5,
            ..Profile::LOOPBACK
        };
        let link = Link::start(echo(), lossy, 7).unwrap();
        exchange(&link, 30_000).unwrap();
        assert!(link.take().retransmitted > 0);

        let link = Link::start(echo(), Profile::LOOPBACK, 1).unwrap();
        link.cut_after(5_000);
        assert!(
            exchange(&link, 50_000).is_err(),
            "the cut ends the exchange"
        );
        assert_eq!(link.take().cuts, 1);
        exchange(&link, 50_000).expect("the next connection passes");
    }
}
