//! Ctrl-C and SIGTERM, through signal-hook: the first one asks for a clean
//! stop; a second one exits at once.

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use tokio_util::sync::CancellationToken;

/// A token cancelled on the first SIGINT or SIGTERM.
pub fn stop_on_signal() -> std::io::Result<CancellationToken> {
    let token = CancellationToken::new();
    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    let cancel = token.clone();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let mut seen = 0;
            for signal in signals.forever() {
                seen += 1;
                if seen > 1 {
                    eprintln!("second signal ({signal}): exiting now");
                    std::process::exit(130);
                }
                cancel.cancel();
            }
        })?;
    Ok(token)
}
