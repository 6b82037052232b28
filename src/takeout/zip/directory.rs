//! A zip's central directory read into [`CentralEntry`]s, every record of it (by the zip
//! crate, or walked here where the zip crate sees fewer), each checked against the others
//! (see [`super::refusals`]).

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use ::zip::ZipArchive;

use super::{central_entries, count_central, refusals, CentralEntry, DEFLATED, STORED};
use crate::takeout::SourceError;

/// The records of a zip's central directory, every one (the same name twice included, and
/// those past the count of an end record that wrapped), each with why it is refused, if it
/// is. The zip crate parses and checks the directory (an unreadable one is `NotZip`); its
/// records are counted again here, and when it holds fewer (it reads as many as the end
/// record counts, and its index keeps one entry per name), the directory is walked here.
pub(crate) fn central_directory(path: &Path, len: u64) -> Result<Vec<CentralEntry>, SourceError> {
    if len == 0 {
        return Err(SourceError::Empty(path.to_path_buf()));
    }
    let io_err = |e| SourceError::Io {
        path: path.to_path_buf(),
        source: e,
    };
    let file = File::open(path).map_err(io_err)?;
    // A buffer that holds most central directories whole: a few reads per zip, not one
    // per 8 KB (1,200 reads for the 2 GB benchmark's 4 zips).
    let buffer = 256 * 1024;
    let archive = ZipArchive::new(BufReader::with_capacity(buffer, file)).map_err(|e| {
        SourceError::NotZip {
            path: path.to_path_buf(),
            reason: super::zip_error_in_words(&e),
        }
    })?;
    let (start, offset) = (archive.central_directory_start(), archive.offset());
    let duplicates = archive.has_duplicate_names();
    let meta = archive.metadata();
    let mut reader = archive.into_inner();
    let records = count_central(&mut reader, start).map_err(io_err)?;
    let mut out = if duplicates || records != meta.len() {
        drop(meta);
        central_entries(reader, start, offset).map_err(io_err)?
    } else {
        drop(reader);
        let mut out = Vec::with_capacity(meta.len());
        for i in 0..meta.len() {
            let Ok(e) = meta.entry(i) else { continue };
            let name = match e.name() {
                Ok(n) => n.into_owned(),
                Err(_) => String::from_utf8_lossy(e.name_raw()).into_owned(),
            };
            #[allow(deprecated)]
            let method = match e.compression() {
                ::zip::CompressionMethod::Stored => STORED,
                ::zip::CompressionMethod::Deflated => DEFLATED,
                ::zip::CompressionMethod::Unsupported(m) => m,
                // Methods of features this build does not enable are `Unsupported` above.
                _ => u16::MAX,
            };
            out.push(CentralEntry {
                name,
                method,
                encrypted: e.encrypted(),
                crc32: e.crc32(),
                compressed: e.compressed_size(),
                size: e.size(),
                header_start: e.header_start(),
                symlink: e.is_symlink(),
                name_len: u16::try_from(e.name_raw().len()).unwrap_or(u16::MAX),
                refused: None,
            });
        }
        out
    };
    let spans: Vec<(u64, u16, u64)> = out
        .iter()
        .map(|e| (e.header_start, e.name_len, e.compressed))
        .collect();
    for (e, why) in out.iter_mut().zip(refusals(&spans, start)) {
        e.refused = why;
    }
    Ok(out)
}
