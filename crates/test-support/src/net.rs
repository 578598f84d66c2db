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
