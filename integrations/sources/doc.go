// Package sources integrates the source registries from which Qujat
// assembles documents: the population registry (identity cards, passports,
// birth and marriage certificates, the citizen directory and guardianship),
// the transport registry (driving licences, vehicle registrations) and the
// education registry (diplomas).
//
// It holds three things that speak one protocol (see PROTOCOL.md):
//
//   - Demo, the built-in registry with synthetic citizens, used in process
//     by the embedded default;
//   - Client and DirectoryClient, which call a registry over HTTP with
//     signed requests, timeouts and retries;
//   - the simulator (NewSimulator), which serves the demo data over HTTP
//     with injectable latency, failures and garbage, for development and
//     tests.
package sources
