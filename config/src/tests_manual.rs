//! `[packing] mode = "manual"` and its scanners.

use super::tests::{MINIMAL, errors_of, load_text};
use super::*;

#[test]
fn a_manual_station_has_a_scanner_and_may_have_a_palletiser() {
    let line = load_text(&format!(
        "{MINIMAL}\n[packing]\nmode = \"manual\"\nunits_per_case = 12\ncases_per_pallet = 4\n\
         [packing.scanner]\ntransport = {{ type = \"tcp\", address = \"0.0.0.0:7001\" }}\n\
         listen = true\n\
         [packing.palletiser]\ntransport = {{ type = \"serial\", path = \"/dev/ttyACM0\", \
         baud = 115200 }}\nrequire_identifier = false\n\
         [packing.palletiser.commands]\nclose = \"PALLET CLOSE\"\n"
    ))
    .expect("manual");
    let packing = line.packing.expect("packing");
    assert_eq!(packing.mode, PackingMode::Manual);
    assert_eq!(packing.units_per_case, Some(12));
    let manual = packing.manual.expect("scanners");
    assert!(manual.scanner.listen);
    assert!(manual.scanner.require_identifier);
    assert_eq!(manual.scanner.transport.describe(), "tcp 0.0.0.0:7001");
    assert_eq!(
        manual.scanner.commands,
        Commands {
            new: "NEW".into(),
            close: "CLOSE".into(),
            cancel: "CANCEL".into(),
            remove: "REMOVE".into(),
        }
    );
    let palletiser = manual.palletiser.expect("palletiser");
    assert!(!palletiser.require_identifier);
    assert_eq!(palletiser.commands.close, "PALLET CLOSE");
    assert_eq!(
        palletiser.transport.describe(),
        "serial /dev/ttyACM0 115200"
    );
}

#[test]
fn a_manual_station_without_a_scanner_or_with_bad_commands_is_refused() {
    let errors = errors_of(&format!("{MINIMAL}\n[packing]\nmode = \"manual\"\n"));
    assert_eq!(
        errors,
        ["packing.scanner: missing: mode `manual` needs [packing.scanner] with its transport"]
    );
    let errors = errors_of(&format!(
        "{MINIMAL}\n[packing]\nmode = \"manual\"\n\
         [packing.scanner]\ntransport = {{ type = \"serial\", path = \"/dev/ttyACM0\" }}\n\
         listen = true\n[packing.scanner.commands]\nclose = \"NEW\"\ncancel = \"0012\"\n\
         remove = \"\"\n"
    ));
    assert_eq!(
        errors,
        [
            "packing.scanner.listen: only a tcp transport can listen (a serial port is always \
             opened)",
            "packing.scanner.commands.close: \"NEW\" is also the `new` command",
            "packing.scanner.commands.cancel: \"0012\" is digits only: it could be read as a code",
            "packing.scanner.commands.remove: \"\" is not printable ASCII text",
        ]
    );
    let errors = errors_of(&format!(
        "{MINIMAL}\n[packing]\nmode = \"inferred\"\n\
         [packing.scanner]\ntransport = {{ type = \"tcp\", address = \"scanner:23\" }}\n"
    ));
    assert_eq!(
        errors,
        ["packing.scanner: only a `manual` station has hand scanners"]
    );
}

#[test]
fn a_dispatch_station_has_a_scanner_and_its_commands() {
    let line = load_text(&format!(
        "{MINIMAL}\n[dispatch]\ntransport = {{ type = \"tcp\", address = \"0.0.0.0:7010\" }}\n\
         listen = true\n[dispatch.commands]\nship = \"LOAD TRUCK\"\n"
    ))
    .expect("dispatch");
    let dispatch = line.dispatch.expect("dispatch");
    assert!(dispatch.listen);
    assert!(dispatch.require_identifier);
    assert_eq!(dispatch.transport.describe(), "tcp 0.0.0.0:7010");
    assert_eq!(
        dispatch.commands,
        DispatchCommands {
            ship: "LOAD TRUCK".into(),
            cancel: "CANCEL".into(),
            remove: "REMOVE".into(),
        }
    );
    assert!(load_text(MINIMAL).expect("minimal").dispatch.is_none());
    let errors = errors_of(&format!(
        "{MINIMAL}\n[dispatch]\ntransport = {{ type = \"serial\", path = \"/dev/ttyACM0\" }}\n\
         listen = true\n[dispatch.commands]\nship = \"CANCEL\"\nremove = \"123\"\n"
    ));
    assert_eq!(
        errors,
        [
            "dispatch.listen: only a tcp transport can listen (a serial port is always opened)",
            "dispatch.commands.cancel: \"CANCEL\" is also the `ship` command",
            "dispatch.commands.remove: \"123\" is digits only: it could be read as a code",
        ]
    );
    let errors = errors_of(&format!("{MINIMAL}\n[dispatch]\nlisten = true\n"));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("dispatch"), "{errors:?}");
}
