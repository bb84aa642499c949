/* C interface of the streamer_parquet_ffi static library (rust/parquet_ffi): writes a
 * whole table of nullable INT64, DOUBLE and UTF-8 string columns to one Parquet file
 * (SNAPPY pages). These are the only symbols the library defines for C/C++. */
#ifndef STREAMER_PARQUET_H
#define STREAMER_PARQUET_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
  STREAMER_PARQUET_INT64 = 0,  /* optional int64 */
  STREAMER_PARQUET_DOUBLE = 1, /* optional double */
  STREAMER_PARQUET_STRING = 2  /* optional binary (STRING) */
};

/* One column of `row_count` rows. `present[r]` is 1 when row r has a value and 0 for
 * a null. Only the value array of the column's kind is read (row_count entries; the
 * entries of null rows are ignored); the others may be NULL. */
typedef struct streamer_parquet_column {
  const char* name; /* UTF-8, name_len bytes, not NUL-terminated */
  size_t name_len;
  int32_t kind;
  const uint8_t* present;
  const int64_t* int64_values;
  const double* double_values;
  const char* const* string_data; /* string r is string_data[r][0 .. string_lengths[r]) */
  const size_t* string_lengths;
} streamer_parquet_column;

/* Writes the table to the file at `path` (NUL-terminated; created or truncated), in
 * row groups of at most `row_group_rows` rows (0 means one row group). Returns 0 on
 * success. On failure returns non-zero, removes the partial file and writes a
 * NUL-terminated message into `error` (truncated to error_capacity bytes). Never
 * unwinds or aborts on bad input or I/O errors. */
int32_t streamer_parquet_write(const char* path, const streamer_parquet_column* columns, size_t column_count,
                               size_t row_count, size_t row_group_rows, char* error, size_t error_capacity);

#ifdef __cplusplus
}
#endif

#endif /* STREAMER_PARQUET_H */
