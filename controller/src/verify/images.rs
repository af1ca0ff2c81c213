//! Reject images (SPEC §1 8.2; docs/verification.md "Reject images"): a camera publishes the
//! image of a bad read as PNG on `tracemark/<line>/vision/<reader>/image/<seq>`, and the image
//! of each unit the line rejects is stored as a file, with a store row mapping its code to it.
//!
//! The line's decision path never waits for an image: the core only hands this task short
//! notes ([`Note`]) with `try_send` — which read decided a reject, and which code the reject
//! was recorded for — and the task does the rest on its own: the subscription, the matching
//! ([`ImageMatcher`], pure and tested alone), the file and the row. An image whose read
//! rejected nothing (or that arrives after the bound) is dropped quietly; a payload that is too
//! large or not a PNG is refused, counted and logged with its topic. Memory is bounded by count
//! and bytes; nothing about images can change a code's state.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, Event, Packet, QoS};
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tracemark_store::Store;
use tracemark_store::reject_image::RejectImage;

use crate::mqtt_endpoint::{BrokerEndpoint, EndpointError};

/// The largest image accepted, in bytes.
pub const MAX_IMAGE_BYTES: usize = 2 * 1024 * 1024;

/// The first bytes of every PNG file (PNG specification §5.2).
pub const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];

/// The directory of reject images when none is configured: `reject_images` next to an SQLite
/// store's file, else in the working directory.
pub fn default_dir(store_url: &str) -> PathBuf {
    tracemark_store::journal::beside_the_store(store_url, "reject_images")
}

/// What the core tells the image task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// The read `seq` of `reader` rejected the tracker's `unit`.
    Decided {
        /// The tracker's unit.
        unit: u64,
        /// The reader.
        reader: String,
        /// Its sequence number.
        seq: u64,
    },
    /// The reject of `unit` was recorded for `code`.
    Settled {
        /// The tracker's unit.
        unit: u64,
        /// The code (HRI).
        code: String,
    },
}

/// Why an image payload was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    /// Larger than [`MAX_IMAGE_BYTES`].
    #[error("image of {0} bytes is larger than {MAX_IMAGE_BYTES}")]
    TooLarge(usize),
    /// Does not start with the PNG signature.
    #[error("not a PNG image (no PNG signature)")]
    NotPng,
    /// The topic is not `tracemark/<line>/vision/<reader>/image/<seq>` of a reader of the line.
    #[error("not an image topic of this line's readers")]
    BadTopic,
}

/// Checks an image payload: a PNG, not larger than [`MAX_IMAGE_BYTES`].
pub fn check_png(payload: &[u8]) -> Result<(), ImageError> {
    if payload.len() > MAX_IMAGE_BYTES {
        return Err(ImageError::TooLarge(payload.len()));
    }
    if !payload.starts_with(&PNG_SIGNATURE) {
        return Err(ImageError::NotPng);
    }
    Ok(())
}

/// The reader and seq from `tracemark/<line>/vision/<reader>/image/<seq>`.
pub fn image_key(topic: &str, line: &str) -> Option<(String, u64)> {
    let rest = topic.strip_prefix("tracemark/")?.strip_prefix(line)?;
    let rest = rest.strip_prefix("/vision/")?;
    let (reader, seq) = rest.split_once("/image/")?;
    if reader.is_empty() || reader.contains('/') {
        return None;
    }
    Some((reader.to_owned(), seq.parse().ok()?))
}

/// The bounds of what the matcher holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// Images waiting for their reject, at most.
    pub images: usize,
    /// Their bytes, at most.
    pub bytes: usize,
    /// Rejects waiting for the gate, or recorded and waiting for their image, at most each.
    pub links: usize,
    /// How long an image waits for its reject, or a reject for its image.
    pub keep_for: Duration,
}

impl Default for Bounds {
    /// 256 images and 64 MiB; 4,096 rejects; 30 s — a reject reaches the gate within seconds,
    /// and a camera sends its image right after its result.
    fn default() -> Self {
        Self {
            images: 256,
            bytes: 64 * 1024 * 1024,
            links: 4096,
            keep_for: Duration::from_secs(30),
        }
    }
}

/// An image matched to its rejected code: to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    /// The rejected code.
    pub code: String,
    /// The reader.
    pub reader: String,
    /// Its sequence number.
    pub seq: u64,
    /// The PNG.
    pub png: Vec<u8>,
}

/// Counters of the image task.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImageStats {
    /// Images taken (well-formed).
    pub received: u64,
    /// Images matched to a reject.
    pub matched: u64,
    /// Images stored (file and row).
    pub stored: u64,
    /// Images dropped: no reject for them within the bounds.
    pub dropped: u64,
    /// Payloads refused (too large, not PNG, bad topic).
    pub refused: u64,
    /// Images matched but not stored (the file or the row failed).
    pub failed: u64,
    /// Notes the core could not hand over (the task was behind): their images are dropped.
    pub notes_lost: u64,
}

type Key = (String, u64);

/// Pairs images with rejects, by reader and seq, within [`Bounds`]. Pure: time is an input.
#[derive(Debug)]
pub struct ImageMatcher {
    bounds: Bounds,
    /// Unit → the read that rejected it, until the reject is recorded.
    decided: HashMap<u64, Key>,
    decided_order: VecDeque<u64>,
    /// Read → code recorded, waiting for its image.
    settled: HashMap<Key, (String, Instant)>,
    settled_order: VecDeque<Key>,
    /// Read → image waiting for its reject.
    images: HashMap<Key, (Vec<u8>, Instant)>,
    images_order: VecDeque<Key>,
    image_bytes: usize,
    stats: ImageStats,
}

impl ImageMatcher {
    /// An empty matcher.
    pub fn new(bounds: Bounds) -> Self {
        Self {
            bounds,
            decided: HashMap::new(),
            decided_order: VecDeque::new(),
            settled: HashMap::new(),
            settled_order: VecDeque::new(),
            images: HashMap::new(),
            images_order: VecDeque::new(),
            image_bytes: 0,
            stats: ImageStats::default(),
        }
    }

    /// The counters.
    pub fn stats(&self) -> &ImageStats {
        &self.stats
    }

    /// The counters, to change.
    pub fn stats_mut(&mut self) -> &mut ImageStats {
        &mut self.stats
    }

    /// Images held, and their bytes.
    pub fn held(&self) -> (usize, usize) {
        (self.images.len(), self.image_bytes)
    }

    /// Rejects recorded whose image has not come yet.
    pub fn waiting_for_images(&self) -> usize {
        self.settled.len()
    }

    /// A note from the core; a reject recorded whose image is here already is matched.
    pub fn note(&mut self, note: Note, now: Instant) -> Option<Matched> {
        match note {
            Note::Decided { unit, reader, seq } => {
                if self.decided_order.len() >= self.bounds.links
                    && let Some(old) = self.decided_order.pop_front()
                {
                    self.decided.remove(&old);
                }
                self.decided.insert(unit, (reader, seq));
                self.decided_order.push_back(unit);
                None
            }
            Note::Settled { unit, code } => {
                let key = self.decided.remove(&unit)?;
                if let Some((png, _)) = self.images.remove(&key) {
                    self.image_bytes -= png.len();
                    self.stats.matched += 1;
                    return Some(Matched {
                        code,
                        reader: key.0,
                        seq: key.1,
                        png,
                    });
                }
                if self.settled_order.len() >= self.bounds.links
                    && let Some(old) = self.settled_order.pop_front()
                {
                    self.settled.remove(&old);
                }
                self.settled.insert(key.clone(), (code, now));
                self.settled_order.push_back(key);
                None
            }
        }
    }

    /// A well-formed image of read `seq` of `reader` (see [`check_png`]): matched when its
    /// reject is recorded already, else held within the bounds (the oldest dropped first).
    pub fn image(&mut self, reader: &str, seq: u64, png: Vec<u8>, now: Instant) -> Option<Matched> {
        self.stats.received += 1;
        let key = (reader.to_owned(), seq);
        if let Some((code, _)) = self.settled.remove(&key) {
            self.stats.matched += 1;
            return Some(Matched {
                code,
                reader: key.0,
                seq,
                png,
            });
        }
        if png.len() > self.bounds.bytes {
            self.stats.dropped += 1;
            return None;
        }
        if let Some((old, _)) = self.images.remove(&key) {
            // The same read again (a QoS 1 redelivery): the newer copy replaces it.
            self.image_bytes -= old.len();
            self.stats.dropped += 1;
        }
        while self.images.len() >= self.bounds.images
            || self.image_bytes + png.len() > self.bounds.bytes
        {
            if !self.drop_oldest_image() {
                break;
            }
        }
        self.image_bytes += png.len();
        self.images.insert(key.clone(), (png, now));
        self.images_order.push_back(key);
        None
    }

    /// Drops what waited longer than the bound: images without a reject, and recorded rejects
    /// whose image never came.
    pub fn expire(&mut self, now: Instant) {
        let keep_for = self.bounds.keep_for;
        let old = |at: &Instant| now.saturating_duration_since(*at) > keep_for;
        while let Some(key) = self.images_order.front() {
            match self.images.get(key) {
                Some((_, at)) if !old(at) => break,
                _ => {
                    self.drop_oldest_image();
                }
            }
        }
        while let Some(key) = self.settled_order.front() {
            match self.settled.get(key) {
                Some((_, at)) if !old(at) => break,
                Some(_) => {
                    if let Some(key) = self.settled_order.pop_front() {
                        self.settled.remove(&key);
                    }
                }
                None => {
                    self.settled_order.pop_front();
                }
            }
        }
    }

    /// Drops the oldest image held; false when none is.
    fn drop_oldest_image(&mut self) -> bool {
        while let Some(key) = self.images_order.pop_front() {
            // The order may name images matched or replaced since: skip those.
            if let Some((png, _)) = self.images.remove(&key) {
                self.image_bytes -= png.len();
                self.stats.dropped += 1;
                return true;
            }
        }
        false
    }
}

/// Where the image task stores, and what it subscribes to.
#[derive(Debug, Clone)]
pub struct ImageSettings {
    /// The broker.
    pub endpoint: BrokerEndpoint,
    /// The line id.
    pub line: String,
    /// The line's readers: images of others are refused.
    pub readers: Vec<String>,
    /// The directory the files go under (`<dir>/<line>/…png`).
    pub dir: PathBuf,
    /// The bounds.
    pub bounds: Bounds,
}

/// The image topic filter of line `line`.
pub fn topic_filter(line: &str) -> String {
    format!("tracemark/{line}/vision/+/image/+")
}

/// Starts the image task; it runs until `notes` closes (the core ended), then waits a little
/// for the images of rejects already recorded, and returns its counters. The watch turns true
/// once the broker acknowledged the subscription. Fails at once when the broker's TLS files
/// cannot be used.
pub fn spawn_images(
    settings: ImageSettings,
    store: Store,
    notes: mpsc::Receiver<Note>,
) -> Result<(JoinHandle<ImageStats>, watch::Receiver<bool>), EndpointError> {
    let client_id = format!("tracemark-{}-images", settings.line);
    let mut options = settings.endpoint.options(&client_id)?;
    // Images are best effort: no session kept for them. Larger packets than a result, and
    // more than the image limit, so an oversize image is refused here with its topic rather
    // than breaking the connection.
    options
        .set_clean_session(true)
        .set_max_packet_size(2 * MAX_IMAGE_BYTES, 2 * MAX_IMAGE_BYTES);
    let (messages_tx, messages) = mpsc::channel(64);
    let (ready_tx, ready) = watch::channel(false);
    let filter = topic_filter(&settings.line);
    tokio::spawn(subscribe(options, filter, messages_tx, ready_tx));
    Ok((tokio::spawn(run(settings, store, notes, messages)), ready))
}

/// Moves image messages from the broker to the image task, until that task ends.
async fn subscribe(
    options: rumqttc::MqttOptions,
    filter: String,
    messages: mpsc::Sender<(String, Vec<u8>)>,
    ready: watch::Sender<bool>,
) {
    let (client, mut events) = AsyncClient::new(options, 16);
    let mut backoff = Duration::from_millis(100);
    loop {
        let event = tokio::select! {
            () = messages.closed() => break,
            event = events.poll() => event,
        };
        match event {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                backoff = Duration::from_millis(100);
                if let Err(e) = client.subscribe(filter.clone(), QoS::AtLeastOnce).await {
                    tracing::warn!(error = %e, "cannot subscribe to reject images");
                }
            }
            Ok(Event::Incoming(Packet::SubAck(_))) => {
                let _ = ready.send(true);
            }
            Ok(Event::Incoming(Packet::Publish(publish))) => {
                let message = (publish.topic, publish.payload.to_vec());
                if messages.send(message).await.is_err() {
                    break;
                }
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "reject images: MQTT connection lost");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
    let _ = client.try_disconnect();
}

/// How long the task waits, after the core ended, for images of rejects already recorded.
const GRACE: Duration = Duration::from_secs(3);

async fn run(
    settings: ImageSettings,
    store: Store,
    mut notes: mpsc::Receiver<Note>,
    mut messages: mpsc::Receiver<(String, Vec<u8>)>,
) -> ImageStats {
    let mut matcher = ImageMatcher::new(settings.bounds);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut notes_open = true;
    let mut grace_until: Option<tokio::time::Instant> = None;
    loop {
        if let Some(until) = grace_until
            && (matcher.waiting_for_images() == 0 || tokio::time::Instant::now() >= until)
        {
            break;
        }
        let matched = tokio::select! {
            note = notes.recv(), if notes_open => match note {
                Some(note) => matcher.note(note, Instant::now()),
                None => {
                    notes_open = false;
                    grace_until = Some(tokio::time::Instant::now() + GRACE);
                    None
                }
            },
            message = messages.recv() => match message {
                Some((topic, payload)) => take(&settings, &mut matcher, &topic, payload),
                None => break,
            },
            _ = tick.tick() => {
                matcher.expire(Instant::now());
                None
            }
        };
        if let Some(matched) = matched {
            match store_image(&settings, &store, &matched).await {
                Ok(()) => matcher.stats_mut().stored += 1,
                Err(e) => {
                    matcher.stats_mut().failed += 1;
                    tracing::error!(code = %matched.code, error = %e, "cannot store a reject image");
                }
            }
        }
    }
    *matcher.stats()
}

/// One message from the broker: refused with a log line naming its topic, or handed to the
/// matcher.
fn take(
    settings: &ImageSettings,
    matcher: &mut ImageMatcher,
    topic: &str,
    payload: Vec<u8>,
) -> Option<Matched> {
    let checked = match image_key(topic, &settings.line) {
        Some((reader, seq)) if settings.readers.contains(&reader) => {
            check_png(&payload).map(|()| (reader, seq))
        }
        _ => Err(ImageError::BadTopic),
    };
    match checked {
        Ok((reader, seq)) => matcher.image(&reader, seq, payload, Instant::now()),
        Err(error) => {
            matcher.stats_mut().refused += 1;
            tracing::warn!(%topic, %error, "reject image refused");
            None
        }
    }
}

/// The file name of an image: reader, seq and the start of its hash (unique, and safe on
/// every file system whatever the reader is called).
fn file_name(reader: &str, seq: u64, sha256: &str) -> String {
    let reader: String = reader
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{reader}-{seq}-{}.png", &sha256[..16])
}

/// Writes the file (to a temporary name, then renamed: a reader never sees half a file) and
/// then the row; a file without a row is harmless, a row without a file never happens.
async fn store_image(
    settings: &ImageSettings,
    store: &Store,
    matched: &Matched,
) -> Result<(), String> {
    let sha256 = hex::encode(Sha256::digest(&matched.png));
    let dir = settings.dir.join(&settings.line);
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let path = dir.join(file_name(&matched.reader, matched.seq, &sha256));
    let partial = path.with_extension("png.part");
    tokio::fs::write(&partial, &matched.png)
        .await
        .map_err(|e| format!("cannot write {}: {e}", partial.display()))?;
    tokio::fs::rename(&partial, &path)
        .await
        .map_err(|e| format!("cannot rename {}: {e}", partial.display()))?;
    let received_at = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .map_err(|e| e.to_string())?;
    let image = RejectImage {
        code: matched.code.clone(),
        reader: matched.reader.clone(),
        seq: i64::try_from(matched.seq).unwrap_or(i64::MAX),
        path: path.to_string_lossy().into_owned(),
        size: matched.png.len() as i64,
        sha256,
        received_at,
    };
    store
        .put_reject_image(&image)
        .await
        .map_err(|e| e.to_string())
}

#[cfg(test)]
#[path = "images_tests.rs"]
mod tests;
