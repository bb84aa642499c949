//! The C boundary: converts the caller's raw arrays into a checked `ColumnView` table,
//! runs the writer, and turns every error or panic into a return code and message.
use std::ffi::{c_char, CStr, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use crate::table::{ColumnView, Values};
use crate::writer::write_table;

const KIND_INT64: i32 = 0;
const KIND_DOUBLE: i32 = 1;
const KIND_STRING: i32 = 2;

/// Mirrors `streamer_parquet_column` in include/streamer_parquet.h.
#[repr(C)]
pub struct StreamerParquetColumn {
    name: *const c_char,
    name_len: usize,
    kind: i32,
    present: *const u8,
    int64_values: *const i64,
    double_values: *const f64,
    string_data: *const *const c_char,
    string_lengths: *const usize,
}

/// See include/streamer_parquet.h. Returns 0 on success, 1 on a write or input error,
/// 2 on an internal panic (both with a message in `error`; a partly written file is
/// removed by `write_table`).
///
/// # Safety
/// Every non-null pointer must be valid for the lengths the header states.
#[no_mangle]
pub unsafe extern "C" fn streamer_parquet_write(
    path: *const c_char,
    columns: *const StreamerParquetColumn,
    column_count: usize,
    row_count: usize,
    row_group_rows: usize,
    error: *mut c_char,
    error_capacity: usize,
) -> i32 {
    let outcome = catch_unwind(AssertUnwindSafe(|| -> Result<(), String> {
        if path.is_null() {
            return Err("path is null".into());
        }
        let file = Path::new(OsStr::from_bytes(CStr::from_ptr(path).to_bytes()));
        let specs = slice(columns, column_count, "columns")?;
        let table = specs
            .iter()
            .map(|c| column_view(c, row_count))
            .collect::<Result<Vec<_>, _>>()?;
        write_table(file, &table, row_count, row_group_rows)
    }));
    let (code, message) = match outcome {
        Ok(Ok(())) => return 0,
        Ok(Err(message)) => (1, message),
        Err(panic) => (2, format!("internal error: {}", panic_message(&panic))),
    };
    copy_message(&message, error, error_capacity);
    code
}

/// A checked view of one C column of `rows` rows.
unsafe fn column_view<'a>(
    c: &'a StreamerParquetColumn,
    rows: usize,
) -> Result<ColumnView<'a>, String> {
    let name_bytes = slice(c.name as *const u8, c.name_len, "column name")?;
    let name = String::from_utf8_lossy(name_bytes).into_owned();
    let present = slice(c.present, rows, "present")?;
    let values = match c.kind {
        KIND_INT64 => Values::Int64(slice(c.int64_values, rows, "int64_values")?),
        KIND_DOUBLE => Values::Double(slice(c.double_values, rows, "double_values")?),
        KIND_STRING => {
            let data = slice(c.string_data, rows, "string_data")?;
            let lengths = slice(c.string_lengths, rows, "string_lengths")?;
            let mut text = Vec::with_capacity(rows);
            for r in 0..rows {
                text.push(if present[r] == 0 {
                    &[][..]
                } else {
                    slice(data[r] as *const u8, lengths[r], "string")?
                });
            }
            Values::Text(text)
        }
        other => return Err(format!("column {name}: unknown kind {other}")),
    };
    Ok(ColumnView {
        name,
        present,
        values,
    })
}

/// `len` elements at `ptr`; an empty slice when `len` is 0, an error for a null pointer.
unsafe fn slice<'a, T>(ptr: *const T, len: usize, what: &str) -> Result<&'a [T], String> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(format!("{what} is null"));
    }
    Ok(std::slice::from_raw_parts(ptr, len))
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic".into()
    }
}

/// Copies `message` into `out` as a NUL-terminated string, truncated to `capacity`.
unsafe fn copy_message(message: &str, out: *mut c_char, capacity: usize) {
    if out.is_null() || capacity == 0 {
        return;
    }
    let n = message.len().min(capacity - 1);
    std::ptr::copy_nonoverlapping(message.as_ptr() as *const c_char, out, n);
    *out.add(n) = 0;
}
