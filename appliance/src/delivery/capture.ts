// Capture transport: writes the message bytes (as received, trace header included) to a directory as
// one .eml file per delivery, atomically. The embedded default's only route; no cloud needed.
