// Package securemessaging owns ICAO 9303 Part 11 §9.8 secure messaging: key
// derivation (§9.7.1), the send sequence counter, protecting command APDUs
// (DO'87'/'85' encrypted data, DO'97' Le, DO'8E' MAC) and unprotecting responses
// (DO'99' status, MAC checked before anything is decrypted or used), with 2-key
// 3DES (zero IV, ISO/IEC 9797-1 MAC algorithm 3) after BAC or AES (CBC with
// IV = E(KSenc, SSC), CMAC) after PACE or Chip Authentication. The
// terminal side is a Channel, an iso7816.Sender over a plain Sender; the card side
// is a CardSession, which the virtual card uses. Both sides treat any secure
// messaging error as the end of the session, as the chip does, because the send
// sequence counters can no longer be trusted to agree.
package securemessaging
