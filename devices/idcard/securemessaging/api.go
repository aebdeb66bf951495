// Package securemessaging owns ICAO 9303 Part 11 §9.8 secure messaging: key
// derivation, the send sequence counter, protecting command APDUs (DO'87'/'85'
// encrypted data, DO'97' Le, DO'8E' MAC) and unprotecting responses (DO'99' status,
// MAC checked before anything is decrypted or used), with 3DES or AES. The terminal
// side is a Channel, an iso7816.Sender over a plain Sender; the card side is a
// CardSession, which the virtual card uses.
package securemessaging
