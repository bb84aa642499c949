//! Parquet output for the streamer binary: a static library with one C function,
//! `streamer_parquet_write` (include/streamer_parquet.h), over the parquet crate's
//! low-level column writer.
mod ffi;
mod table;
mod writer;
