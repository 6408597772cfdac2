//! A real SMTP server on loopback that keeps what it receives. It speaks enough
//! of RFC 5321 for lettre (EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT), can refuse
//! every message with a 5xx, can be stopped (its port closed, its open sessions
//! cut) and started again on its port, and can play the faults of a bad relay
//! (`Fault`).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

#[derive(Debug, Clone)]
pub struct ReceivedMail {
    pub to: Vec<String>,
    pub data: String,
}

impl ReceivedMail {
    /// A header's value (first occurrence, unfolded).
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next().unwrap_or("");
        let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
        unfolded.lines().find_map(|line| {
            let (k, v) = line.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }

    /// Every MIME part's decoded text, joined.
    pub fn text(&self) -> String {
        crate::helpers::decode_mime(&self.data)
    }

    pub fn subject(&self) -> String {
        let raw = self.header("Subject").unwrap_or_default();
        crate::helpers::decode_encoded_words(&raw)
    }
}

/// How the sink misbehaves (`SmtpSink::set_fault`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fault {
    #[default]
    None,
    /// `451` to every RCPT TO.
    DeferRcpt,
    /// Reads the message, keeps nothing, answers `451`.
    DeferData,
    /// `554` after the message's data (kept nothing).
    RefuseData,
    /// Accepts the connection and never says a word.
    StallGreeting,
    /// Keeps the message, then waits this long before its `250`: a slow relay.
    SlowAccept(Duration),
    /// Closes the connection halfway through the message's data.
    DropMidData,
    /// Offers STARTTLS, says go ahead, then answers the handshake with garbage.
    BrokenStartTls,
}

#[derive(Clone, Default)]
pub struct SinkState {
    pub received: Arc<Mutex<Vec<ReceivedMail>>>,
    pub refuse: Arc<AtomicBool>,
    pub fault: Arc<Mutex<Fault>>,
    /// Connections accepted so far.
    pub connections: Arc<AtomicUsize>,
    /// MAIL FROM commands seen so far (delivery attempts that got that far).
    pub mail_commands: Arc<AtomicUsize>,
    sessions: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl SinkState {
    fn fault(&self) -> Fault {
        *self.fault.lock().unwrap()
    }
}

pub struct SmtpSink {
    pub addr: SocketAddr,
    pub state: SinkState,
    task: Option<JoinHandle<()>>,
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind smtp sink");
        let addr = listener.local_addr().unwrap();
        let state = SinkState::default();
        let task = Some(tokio::spawn(serve(listener, state.clone())));
        SmtpSink { addr, state, task }
    }

    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    /// Stops listening, and cuts the sessions open: connections are refused
    /// until `resume`.
    pub fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
        for session in self.state.sessions.lock().unwrap().drain(..) {
            session.abort();
        }
    }

    pub async fn resume(&mut self) {
        self.stop();
        let mut tries = 0;
        let listener = loop {
            match TcpListener::bind(self.addr).await {
                Ok(l) => break l,
                Err(e) if tries < 50 => {
                    tries += 1;
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("cannot rebind the smtp sink: {e}"),
            }
        };
        self.task = Some(tokio::spawn(serve(listener, self.state.clone())));
    }

    pub fn set_refusing(&self, refuse: bool) {
        self.state.refuse.store(refuse, Ordering::SeqCst);
    }

    pub fn set_fault(&self, fault: Fault) {
        *self.state.fault.lock().unwrap() = fault;
    }

    pub fn connections(&self) -> usize {
        self.state.connections.load(Ordering::SeqCst)
    }

    pub fn mail_commands(&self) -> usize {
        self.state.mail_commands.load(Ordering::SeqCst)
    }

    /// The Message-IDs received, in order (repeats included).
    pub fn message_ids(&self) -> Vec<String> {
        self.received()
            .iter()
            .map(|m| m.header("Message-ID").unwrap_or_default())
            .collect()
    }

    pub fn received(&self) -> Vec<ReceivedMail> {
        self.state.received.lock().unwrap().clone()
    }

    /// Waits until at least `n` messages arrived (10 s at most), then returns them all.
    pub async fn wait_for(&self, n: usize) -> Vec<ReceivedMail> {
        for _ in 0..200 {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let got = self.received();
        panic!("expected {n} mails, got {}", got.len());
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn serve(listener: TcpListener, state: SinkState) {
    loop {
        let Ok((socket, _)) = listener.accept().await else {
            return;
        };
        state.connections.fetch_add(1, Ordering::SeqCst);
        let handle = tokio::spawn(session(socket, state.clone()));
        let mut sessions = state.sessions.lock().unwrap();
        sessions.retain(|s| !s.is_finished());
        sessions.push(handle);
    }
}

async fn session(socket: tokio::net::TcpStream, state: SinkState) {
    if state.fault() == Fault::StallGreeting {
        // Held open, silent, until the client gives up or the sink stops.
        let _keep = socket;
        std::future::pending::<()>().await;
        return;
    }
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read);
    let _ = write.write_all(b"220 sink.test ESMTP ready\r\n").await;
    let mut to = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        match lines.read_line(&mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let command = line.trim_end().to_ascii_uppercase();
        let fault = state.fault();
        let reply: &[u8] = if command.starts_with("EHLO") {
            if fault == Fault::BrokenStartTls {
                b"250-sink.test\r\n250-STARTTLS\r\n250 8BITMIME\r\n"
            } else {
                b"250-sink.test\r\n250 8BITMIME\r\n"
            }
        } else if command.starts_with("STARTTLS") && fault == Fault::BrokenStartTls {
            let _ = write.write_all(b"220 go ahead\r\n").await;
            let _ = write.write_all(b"this is not a TLS handshake\r\n").await;
            return;
        } else if command.starts_with("HELO") {
            b"250 sink.test\r\n"
        } else if command.starts_with("MAIL FROM") {
            state.mail_commands.fetch_add(1, Ordering::SeqCst);
            to.clear();
            b"250 OK\r\n"
        } else if command.starts_with("RCPT TO") {
            if fault == Fault::DeferRcpt {
                b"451 4.3.0 try again later\r\n"
            } else if state.refuse.load(Ordering::SeqCst) {
                b"550 5.1.1 mailbox unavailable\r\n"
            } else {
                let addr = line.trim_end()[8..].trim().trim_start_matches(':').trim();
                to.push(addr.trim_matches(|c| c == '<' || c == '>').to_string());
                b"250 OK\r\n"
            }
        } else if command == "DATA" {
            let _ = write.write_all(b"354 go ahead\r\n").await;
            let mut data = String::new();
            let mut read = 0;
            loop {
                line.clear();
                match lines.read_line(&mut line).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                read += 1;
                if read == 5 && fault == Fault::DropMidData {
                    return; // the connection drops, the message unfinished
                }
                if line == ".\r\n" || line == ".\n" {
                    break;
                }
                let unstuffed = line
                    .strip_prefix('.')
                    .filter(|_| line.starts_with(".."))
                    .unwrap_or(&line);
                data.push_str(unstuffed);
            }
            match fault {
                Fault::DeferData => b"451 4.3.0 local problem, try again later\r\n",
                Fault::RefuseData => b"554 5.7.1 message refused\r\n",
                _ => {
                    state.received.lock().unwrap().push(ReceivedMail {
                        to: to.clone(),
                        data,
                    });
                    if let Fault::SlowAccept(delay) = fault {
                        tokio::time::sleep(delay).await;
                    }
                    b"250 OK queued\r\n"
                }
            }
        } else if command.starts_with("RSET") || command.starts_with("NOOP") {
            b"250 OK\r\n"
        } else if command.starts_with("QUIT") {
            let _ = write.write_all(b"221 bye\r\n").await;
            return;
        } else {
            b"502 not implemented\r\n"
        };
        if write.write_all(reply).await.is_err() {
            return;
        }
    }
}
