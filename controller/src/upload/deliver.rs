//! One attempt of one delivery (SPEC §6 "Delivery"): the body rendered once into a spool file,
//! its SHA-256 recorded before the first POST, then streamed from that file on every attempt
//! with the same `Idempotency-Key` and `webhook-id` and a fresh Standard Webhooks signature.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::hazmat::{ExpandedSecretKey, raw_sign_byupdate};
use ed25519_dalek::{SigningKey, VerifyingKey};
use futures_util::StreamExt as _;
use hmac::{Hmac, Mac as _};
use sha2::{Digest as _, Sha256, Sha512};
use tokio::io::{AsyncWriteExt as _, BufWriter};
use tracemark_store::Store;

use super::document::write_document;
use super::{Delivery, DeliveryProgress, ProgressHook, UploadError, UploadTarget};

/// How the sender behaves (the defaults suit a plant; tests shorten them).
#[derive(Debug, Clone)]
pub struct SenderConfig {
    /// Where bodies are rendered, one file per delivery (`<uuid>.body`).
    pub spool_dir: PathBuf,
    /// The back-off of retries.
    pub backoff: super::retry::Backoff,
    /// The longest a connection may take to open.
    pub connect_timeout: Duration,
    /// The longest one whole POST may take (a large body over a slow link needs minutes).
    pub request_timeout: Duration,
    /// Where rendering and sending report how far they are.
    pub progress: ProgressHook,
}

impl SenderConfig {
    /// The defaults, with bodies under `spool_dir`.
    pub fn new(spool_dir: PathBuf) -> Self {
        SenderConfig {
            spool_dir,
            backoff: super::retry::Backoff::default(),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(600),
            progress: ProgressHook::default(),
        }
    }
}

/// What one POST came to, before the decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    /// The receiver answered.
    Answer {
        /// The HTTP status.
        status: u16,
        /// Its `Retry-After`, if any.
        retry_after: Option<String>,
        /// The start of its body (lossy UTF-8).
        reply: String,
    },
    /// No answer.
    Network(String),
}

/// The body of a delivery, ready to send.
#[derive(Debug, Clone)]
pub struct Body {
    /// The spool file.
    pub path: PathBuf,
    /// SHA-256 of its bytes, hex.
    pub sha256: String,
    /// Its length.
    pub bytes: u64,
}

/// The spool file of `delivery`.
pub fn spool_path(config: &SenderConfig, delivery: &Delivery) -> PathBuf {
    config.spool_dir.join(format!("{}.body", delivery.uuid))
}

/// The body of `delivery`: its spool file, rendered now if missing (atomically: a temporary
/// file, fsync, rename, fsync of the directory), and its SHA-256 recorded in the store the
/// first time. A body whose SHA-256 differs from the recorded one is an error
/// ([`UploadError::BodyChanged`]): the delivery must fail rather than send another document.
pub async fn prepare_body(
    store: &Store,
    config: &SenderConfig,
    delivery: &Delivery,
) -> Result<Body, UploadError> {
    let Body {
        path,
        sha256,
        bytes,
    } = spool_body(store, config, delivery).await?;
    match &delivery.body_sha256 {
        Some(recorded) if *recorded != sha256 => Err(UploadError::BodyChanged {
            batch: delivery.batch_id,
            reason: format!(
                "the body in {} has sha256 {sha256}, but {recorded} was recorded before the first \
                 attempt: not sending a different document under the same key",
                path.display()
            ),
        }),
        Some(_) => Ok(Body {
            path,
            sha256,
            bytes,
        }),
        None => {
            store
                .record_delivery_body(
                    delivery.id,
                    &sha256,
                    i64::try_from(bytes).unwrap_or(i64::MAX),
                )
                .await?;
            Ok(Body {
                path,
                sha256,
                bytes,
            })
        }
    }
}

/// The spool file of `delivery`, rendered now if missing, with its SHA-256 and length (nothing
/// recorded: [`prepare_body`] checks and records them for the outbox).
pub async fn spool_body(
    store: &Store,
    config: &SenderConfig,
    delivery: &Delivery,
) -> Result<Body, UploadError> {
    let path = spool_path(config, delivery);
    if !tokio::fs::try_exists(&path)
        .await
        .map_err(UploadError::io("look for", &path))?
    {
        render(store, config, delivery, &path).await?;
    }
    let (sha256, bytes) = file_sha256(&path).await?;
    Ok(Body {
        path,
        sha256,
        bytes,
    })
}

async fn render(
    store: &Store,
    config: &SenderConfig,
    delivery: &Delivery,
    path: &Path,
) -> Result<(), UploadError> {
    let dir = &config.spool_dir;
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(UploadError::io("create the spool directory", dir))?;
    let raw = dir.join(format!("{}.raw.tmp", delivery.uuid));
    let file = tokio::fs::File::create(&raw)
        .await
        .map_err(UploadError::io("create", &raw))?;
    let mut out = BufWriter::new(file);
    write_document(store, delivery, &mut out, &config.progress).await?;
    out.flush().await.map_err(UploadError::io("write", &raw))?;
    let file = out.into_inner();
    file.sync_all()
        .await
        .map_err(UploadError::io("fsync", &raw))?;
    drop(file);
    let ready = if delivery.gzip {
        // Compressed once here, so every attempt sends the same compressed bytes (which the
        // signature covers). flate2's header has mtime 0: the same input, the same output.
        let zipped = dir.join(format!("{}.gz.tmp", delivery.uuid));
        let (from, to) = (raw.clone(), zipped.clone());
        tokio::task::spawn_blocking(move || gzip_file(&from, &to))
            .await
            .map_err(|e| UploadError::Render {
                batch: delivery.batch_id,
                reason: format!("gzip task: {e}"),
            })??;
        tokio::fs::remove_file(&raw)
            .await
            .map_err(UploadError::io("remove", &raw))?;
        zipped
    } else {
        raw
    };
    tokio::fs::rename(&ready, path)
        .await
        .map_err(UploadError::io("rename into place", path))?;
    let dir_handle = tokio::fs::File::open(dir)
        .await
        .map_err(UploadError::io("open", dir))?;
    dir_handle
        .sync_all()
        .await
        .map_err(UploadError::io("fsync", dir))
}

fn gzip_file(from: &Path, to: &Path) -> Result<(), UploadError> {
    let mut input = std::fs::File::open(from).map_err(UploadError::io("open", from))?;
    let output = std::fs::File::create(to).map_err(UploadError::io("create", to))?;
    let mut encoder = flate2::write::GzEncoder::new(
        std::io::BufWriter::new(output),
        flate2::Compression::default(),
    );
    std::io::copy(&mut input, &mut encoder).map_err(UploadError::io("gzip into", to))?;
    let output = encoder
        .finish()
        .map_err(UploadError::io("gzip into", to))?
        .into_inner()
        .map_err(|e| UploadError::Io {
            what: "write",
            path: to.to_owned(),
            source: e.into_error(),
        })?;
    output.sync_all().map_err(UploadError::io("fsync", to))
}

/// SHA-256 (hex) and length of the file at `path`, read in chunks.
async fn file_sha256(path: &Path) -> Result<(String, u64), UploadError> {
    let path = path.to_owned();
    let task = tokio::task::spawn_blocking(move || {
        let mut hasher = Sha256::new();
        let bytes = each_chunk(&path, |chunk| hasher.update(chunk))?;
        Ok::<_, UploadError>((hex::encode(hasher.finalize()), bytes))
    });
    task.await.map_err(|e| UploadError::Render {
        batch: 0,
        reason: format!("hash task: {e}"),
    })?
}

/// Calls `each` with the file's bytes in order, 64 KiB at a time; returns the length.
fn each_chunk(path: &Path, mut each: impl FnMut(&[u8])) -> Result<u64, UploadError> {
    let mut file = std::fs::File::open(path).map_err(UploadError::io("open", path))?;
    let mut buffer = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = file
            .read(&mut buffer)
            .map_err(UploadError::io("read", path))?;
        if n == 0 {
            return Ok(total);
        }
        total += n as u64;
        each(&buffer[..n]);
    }
}

/// The keys of a target, read from its files.
#[derive(Debug)]
pub struct Keys {
    /// The HMAC key of `v1` signatures.
    pub secret: Option<Vec<u8>>,
    /// The Ed25519 key of `v1a` signatures.
    pub ed25519: Option<SigningKey>,
}

/// Reads the keys named by `target`.
pub fn read_keys(target: &UploadTarget) -> Result<Keys, UploadError> {
    let problem = |reason: String| UploadError::Target {
        target: target.name.clone(),
        reason,
    };
    let read = |field: &str, path: &Path, prefix: &str| -> Result<Vec<u8>, UploadError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| problem(format!("{field} {}: {e}", path.display())))?;
        let text = text.trim();
        let encoded = text.strip_prefix(prefix).ok_or_else(|| {
            problem(format!(
                "{field} {}: the key must be written {prefix}<base64>",
                path.display()
            ))
        })?;
        STANDARD.decode(encoded).map_err(|e| {
            problem(format!(
                "{field} {}: not base64 after {prefix}: {e}",
                path.display()
            ))
        })
    };
    let secret = match &target.secret_file {
        Some(path) => {
            let key = read("secret_file", path, "whsec_")?;
            if key.len() < 16 {
                return Err(problem(format!(
                    "secret_file {}: a secret of {} bytes is too short (at least 16; Standard Webhooks \
                     suggests 24 to 64)",
                    path.display(),
                    key.len()
                )));
            }
            Some(key)
        }
        None => None,
    };
    let ed25519 = match &target.ed25519_key_file {
        Some(path) => {
            let bytes = read("ed25519_key_file", path, "whsk_")?;
            // The 32-byte seed, or seed and public key (64 bytes) as some tools write it.
            let seed: [u8; 32] = bytes
                .get(..32)
                .filter(|_| bytes.len() == 32 || bytes.len() == 64)
                .and_then(|s| s.try_into().ok())
                .ok_or_else(|| {
                    problem(format!(
                        "ed25519_key_file {}: an Ed25519 key is 32 bytes (the seed), not {}",
                        path.display(),
                        bytes.len()
                    ))
                })?;
            Some(SigningKey::from_bytes(&seed))
        }
        None => None,
    };
    Ok(Keys { secret, ed25519 })
}

/// The `webhook-signature` value for `id` and `timestamp` over the body file (Standard
/// Webhooks: `v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>`, with an Ed25519 key
/// also `v1a,<base64 Ed25519 signature of the same content>`, space-separated). The file is
/// read in chunks, never whole: once for the HMAC and twice for Ed25519, which hashes the
/// message twice (RFC 8032 §5.1.6).
pub async fn signature(
    keys: &Keys,
    id: &str,
    timestamp: &str,
    body: &Path,
) -> Result<Option<String>, UploadError> {
    let prefix = format!("{id}.{timestamp}.");
    let secret = keys.secret.clone();
    let ed25519 = keys.ed25519.clone();
    let path = body.to_owned();
    let task = tokio::task::spawn_blocking(move || -> Result<Option<String>, UploadError> {
        let mut entries = Vec::new();
        if let Some(secret) = &secret {
            let mut mac =
                <Hmac<Sha256>>::new_from_slice(secret).map_err(|e| UploadError::Render {
                    batch: 0,
                    reason: format!("HMAC key: {e}"),
                })?;
            mac.update(prefix.as_bytes());
            each_chunk(&path, |chunk| mac.update(chunk))?;
            entries.push(format!(
                "v1,{}",
                STANDARD.encode(mac.finalize().into_bytes())
            ));
        }
        if let Some(key) = &ed25519 {
            entries.push(format!("v1a,{}", sign_ed25519(key, &prefix, &path)?));
        }
        Ok((!entries.is_empty()).then(|| entries.join(" ")))
    });
    task.await.map_err(|e| UploadError::Render {
        batch: 0,
        reason: format!("signature task: {e}"),
    })?
}

fn sign_ed25519(key: &SigningKey, prefix: &str, path: &Path) -> Result<String, UploadError> {
    let expanded = ExpandedSecretKey::from(&key.to_bytes());
    let verifying: VerifyingKey = key.verifying_key();
    let io_error = std::cell::RefCell::new(None);
    let signed = raw_sign_byupdate::<Sha512, _>(
        &expanded,
        |digest| {
            digest.update(prefix.as_bytes());
            match each_chunk(path, |chunk| digest.update(chunk)) {
                Ok(_) => Ok(()),
                Err(error) => {
                    io_error.replace(Some(error));
                    Err(ed25519_dalek::SignatureError::new())
                }
            }
        },
        &verifying,
    );
    match (signed, io_error.into_inner()) {
        (_, Some(error)) => Err(error),
        (Ok(signature), None) => Ok(STANDARD.encode(signature.to_bytes())),
        (Err(e), None) => Err(UploadError::Render {
            batch: 0,
            reason: format!("Ed25519 signature: {e}"),
        }),
    }
}

/// A client for `target`: rustls, trusting its CA file, else the system's roots.
pub fn client(
    target: &UploadTarget,
    config: &SenderConfig,
) -> Result<reqwest::Client, UploadError> {
    let problem = |reason: String| UploadError::Target {
        target: target.name.clone(),
        reason,
    };
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .connect_timeout(config.connect_timeout)
        .timeout(config.request_timeout)
        .redirect(reqwest::redirect::Policy::none());
    if target.url.starts_with("https://") {
        match &target.ca_file {
            Some(path) => {
                let pem = std::fs::read(path)
                    .map_err(|e| problem(format!("ca_file {}: {e}", path.display())))?;
                let certificates = reqwest::Certificate::from_pem_bundle(&pem)
                    .map_err(|e| problem(format!("ca_file {}: {e}", path.display())))?;
                if certificates.is_empty() {
                    return Err(problem(format!(
                        "ca_file {}: no PEM certificate in it",
                        path.display()
                    )));
                }
                for certificate in certificates {
                    builder = builder.add_root_certificate(certificate);
                }
            }
            None => {
                let native = rustls_native_certs::load_native_certs();
                for certificate in native.certs {
                    if let Ok(certificate) = reqwest::Certificate::from_der(&certificate) {
                        builder = builder.add_root_certificate(certificate);
                    }
                }
            }
        }
    }
    builder
        .build()
        .map_err(|e| problem(format!("HTTP client: {e}")))
}

/// POSTs the body of `delivery` to `target` once, reporting the bytes sent to `progress`.
pub async fn post(
    client: &reqwest::Client,
    target: &UploadTarget,
    keys: &Keys,
    delivery: &Delivery,
    body: &Body,
    progress: &ProgressHook,
) -> Result<Sent, UploadError> {
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
        .to_string();
    let signature = signature(keys, &delivery.uuid, &timestamp, &body.path).await?;
    let file = tokio::fs::File::open(&body.path)
        .await
        .map_err(UploadError::io("open", &body.path))?;
    let (batch, total) = (delivery.batch_id, body.bytes);
    let progress = progress.clone();
    let mut sent = 0u64;
    let stream =
        tokio_util::io::ReaderStream::with_capacity(file, 64 * 1024).inspect(move |chunk| {
            if let Ok(chunk) = chunk {
                sent += chunk.len() as u64;
                progress.report(DeliveryProgress::Sending { batch, sent, total });
            }
        });
    let mut request = client
        .post(&target.url)
        .header(
            reqwest::header::CONTENT_TYPE,
            delivery.format.content_type(),
        )
        .header(reqwest::header::CONTENT_LENGTH, body.bytes)
        // RFC 8941 §3.3.3: a String item is quoted (draft-ietf-httpapi-idempotency-key-header).
        .header("Idempotency-Key", format!("\"{}\"", delivery.uuid))
        .header("webhook-id", &delivery.uuid)
        .header("webhook-timestamp", &timestamp)
        .body(reqwest::Body::wrap_stream(stream));
    if delivery.gzip {
        request = request.header(reqwest::header::CONTENT_ENCODING, "gzip");
    }
    if let Some(signature) = signature {
        request = request.header("webhook-signature", signature);
    }
    let response = match request.send().await {
        Ok(response) => response,
        Err(error) => return Ok(Sent::Network(describe(&error))),
    };
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let reply = read_reply(response).await;
    Ok(Sent::Answer {
        status,
        retry_after,
        reply,
    })
}

/// The start of a reply body; a reply cut off by the connection keeps what came.
async fn read_reply(mut response: reqwest::Response) -> String {
    let limit = tracemark_store::upload::MAX_REPLY_BYTES + 4;
    let mut bytes = Vec::new();
    while bytes.len() < limit {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// An error with its causes (reqwest's own message says little: "error sending request").
fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
