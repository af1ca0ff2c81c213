//! Commands on stdin, read on a thread of its own: tokio's `stdin()` reads on the runtime's
//! blocking pool, and a runtime does not shut down while a read is pending there, so a
//! simulator stopped by Ctrl-C (or a failed server) would hang until the next line came. A
//! detached thread ends with the process.

use std::io::BufRead as _;

use tokio::sync::mpsc;
use tracemark_sim::control::Reply;

/// Gives each stdin line to `command` and prints what it answers, until `quit` or the end of
/// stdin (EOF: the parent closed it or ended).
pub(crate) async fn commands(mut command: impl FnMut(&str) -> Reply) -> anyhow::Result<()> {
    let mut lines = lines()?;
    while let Some(line) = lines.recv().await {
        match command(&line?) {
            Reply::Silent => {}
            Reply::Say(text) => crate::announce(&text)?,
            Reply::Quit => return Ok(()),
        }
    }
    Ok(())
}

/// stdin's lines; the channel closes at its end.
pub(crate) fn lines() -> std::io::Result<mpsc::Receiver<std::io::Result<String>>> {
    let (sender, receiver) = mpsc::channel(16);
    std::thread::Builder::new()
        .name("stdin".to_owned())
        .spawn(move || {
            for line in std::io::stdin().lock().lines() {
                let failed = line.is_err();
                if sender.blocking_send(line).is_err() || failed {
                    return;
                }
            }
        })?;
    Ok(receiver)
}
