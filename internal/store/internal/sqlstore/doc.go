// Package sqlstore holds what the two SQL backends of package store share:
// the row encoding of keys and audit events, the key filter and state
// expressions, cursor validation, and the loader of embedded migrations.
// Keeping these in one place is what makes the backends agree byte for byte
// on what they store and return.
//
// Normalisation rules (both backends, checked by the conformance suite):
//
//   - Lists and maps are stored as JSON text, never NULL: "[]" and "{}" when
//     empty. They come back nil when empty, whether they were written as nil
//     or as an empty, non-nil value.
//   - Times are int64 microseconds since the Unix epoch and come back in UTC;
//     optional times are NULL when nil.
//   - Audit hashes that are empty come back nil.
package sqlstore
