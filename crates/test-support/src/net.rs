//! A stand-in for "another host" on loopback: it accepts connections, counts them, and never
//! answers — what a redirect target or a proxy would be, so a test can prove nothing went there.

use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

pub struct CountingListener {
    pub port: u16,
    connections: Arc<AtomicUsize>,
}

impl CountingListener {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let port = listener.local_addr().expect("a bound address").port();
        let connections = Arc::new(AtomicUsize::new(0));
        let counted = connections.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                counted.fetch_add(1, Ordering::SeqCst);
                // Held open, never answered, until the test process ends.
                std::mem::forget(stream);
            }
        });
        Self { port, connections }
    }

    /// Connections made to it so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// A webhook's receiver on loopback: answers `200 OK` to every request and keeps each body.
pub struct PostReceiver {
    /// Where to send: `http://127.0.0.1:<port>/hooks/T0/B0/XX`.
    pub url: String,
    bodies: Arc<std::sync::Mutex<Vec<String>>>,
}

impl PostReceiver {
    pub fn start() -> Self {
        use std::io::{BufRead, BufReader, Read, Write};
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let url = format!(
            "http://{}/hooks/T0/B0/XX",
            listener.local_addr().expect("a bound address")
        );
        let bodies = Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = bodies.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let kept = kept.clone();
                // A thread a connection: a slow sender holds up no other.
                std::thread::spawn(move || {
                    let mut stream = stream;
                    let Ok(read_side) = stream.try_clone() else {
                        return;
                    };
                    let mut reader = BufReader::new(read_side);
                    let mut length = 0;
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                            break;
                        }
                        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                            length = v.trim().parse().unwrap_or(0);
                        }
                    }
                    let mut body = vec![0; length];
                    if reader.read_exact(&mut body).is_ok() {
                        kept.lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .push(String::from_utf8_lossy(&body).into_owned());
                    }
                    let _ = stream.write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                    );
                });
            }
        });
        Self { url, bodies }
    }

    /// The bodies received so far, in order.
    pub fn bodies(&self) -> Vec<String> {
        self.bodies
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}
