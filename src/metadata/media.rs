//! What kind of media a file is: by extension first, confirmed or corrected by its magic bytes
//! (Takeouts contain HEICs named `.jpg` and the like).

/// The container formats gpbackup distinguishes. Each decides which metadata writer applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaKind {
    Jpeg,
    Png,
    Heif,
    Avif,
    Webp,
    Gif,
    Bmp,
    Tiff,
    Jxl,
    /// Camera RAW formats (DNG, CR2, NEF, …): never rewritten.
    Raw,
    /// ISO base media / QuickTime videos (mp4, mov, m4v, 3gp).
    IsoVideo,
    /// Other video containers (avi, mkv, webm, mts, wmv, mpg).
    OtherVideo,
    /// Anything else found among the photos: copied and reported.
    Unknown,
}

impl MediaKind {
    /// Classifies a file name by its extension; `None` when the extension is not a media type.
    pub fn from_name(name: &str) -> Option<MediaKind> {
        let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
        // A copy counter after the extension (`PXL_….MP~2`, a motion photo's second video
        // half) does not change the type.
        let ext = match ext.split_once('~') {
            Some((e, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => e.to_string(),
            _ => ext,
        };
        Some(match ext.as_str() {
            "jpg" | "jpeg" | "jpe" | "jfif" => MediaKind::Jpeg,
            "png" => MediaKind::Png,
            "heic" | "heif" | "hif" => MediaKind::Heif,
            "avif" => MediaKind::Avif,
            "webp" => MediaKind::Webp,
            "gif" => MediaKind::Gif,
            "bmp" => MediaKind::Bmp,
            "tif" | "tiff" => MediaKind::Tiff,
            "jxl" => MediaKind::Jxl,
            "dng" | "cr2" | "cr3" | "crw" | "nef" | "nrw" | "arw" | "srw" | "orf" | "rw2"
            | "raf" | "pef" | "raw" => MediaKind::Raw,
            "mp4" | "mov" | "m4v" | "3gp" | "3g2" | "qt" => MediaKind::IsoVideo,
            // `.MP` is the separate video half of some Pixel motion photos.
            "avi" | "mkv" | "webm" | "mts" | "m2ts" | "ts" | "wmv" | "mpg" | "mpeg" | "flv"
            | "mp" => MediaKind::OtherVideo,
            _ => return None,
        })
    }

    /// Identifies a container from its first bytes (at least 16 are needed for ISO-BMFF brands).
    pub fn sniff(head: &[u8]) -> Option<MediaKind> {
        if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
            return Some(MediaKind::Jpeg);
        }
        if head.starts_with(b"\x89PNG\r\n\x1a\n") {
            return Some(MediaKind::Png);
        }
        if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
            return Some(MediaKind::Gif);
        }
        if head.len() >= 12 && &head[0..4] == b"RIFF" && &head[8..12] == b"WEBP" {
            return Some(MediaKind::Webp);
        }
        // AVI, Matroska/WebM: videos no writer of ours edits (copied, with an XMP sidecar).
        if head.len() >= 12 && &head[0..4] == b"RIFF" && &head[8..12] == b"AVI " {
            return Some(MediaKind::OtherVideo);
        }
        if head.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]) {
            return Some(MediaKind::OtherVideo);
        }
        if head.starts_with(b"II*\0") || head.starts_with(b"MM\0*") {
            // RAW files built on TIFF keep their RAW kind by name (`resolve_kind`).
            return Some(MediaKind::Tiff);
        }
        if head.starts_with(b"BM") && head.len() >= 14 {
            return Some(MediaKind::Bmp);
        }
        if head.starts_with(&[0xFF, 0x0A]) || head.starts_with(b"\0\0\0\x0cJXL \r\n\x87\n") {
            return Some(MediaKind::Jxl);
        }
        if head.len() >= 12 && &head[4..8] == b"ftyp" {
            let brand = &head[8..12];
            return Some(match brand {
                b"heic" | b"heix" | b"heim" | b"heis" | b"hevc" | b"hevx" | b"mif1" | b"msf1" => {
                    MediaKind::Heif
                }
                b"avif" | b"avis" => MediaKind::Avif,
                b"crx " => MediaKind::Raw,
                _ => MediaKind::IsoVideo,
            });
        }
        None
    }

    /// True for formats that are videos (and may be the moving half of a Live Photo).
    pub fn is_video(self) -> bool {
        matches!(self, MediaKind::IsoVideo | MediaKind::OtherVideo)
    }

    /// The kind in a user's words ("its content is …").
    pub fn plain_name(self) -> &'static str {
        match self {
            MediaKind::Jpeg => "a JPEG photo",
            MediaKind::Png => "a PNG image",
            MediaKind::Heif => "a HEIC photo",
            MediaKind::Avif => "an AVIF image",
            MediaKind::Webp => "a WebP image",
            MediaKind::Gif => "a GIF image",
            MediaKind::Bmp => "a BMP image",
            MediaKind::Tiff => "a TIFF image",
            MediaKind::Jxl => "a JPEG XL image",
            MediaKind::Raw => "a camera RAW photo",
            MediaKind::IsoVideo => "an MP4/QuickTime video",
            MediaKind::OtherVideo => "a video of another kind (AVI, Matroska, MPEG…)",
            MediaKind::Unknown => "of no known type",
        }
    }

    /// True for still images that can own a Live Photo's video half.
    pub fn is_still(self) -> bool {
        !self.is_video() && self != MediaKind::Unknown
    }
}

/// The kind to treat the bytes as: the sniffed kind wins over the extension when they disagree,
/// except that TIFF-based RAW files keep their RAW kind (never rewritten).
pub fn resolve_kind(by_name: Option<MediaKind>, sniffed: Option<MediaKind>) -> MediaKind {
    match (by_name, sniffed) {
        (Some(MediaKind::Raw), _) => MediaKind::Raw,
        (_, Some(s)) => s,
        (Some(n), None) => n,
        (None, None) => MediaKind::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn videos_no_writer_edits_are_told_by_their_content() {
        let avi = b"RIFF\x10\0\0\0AVI LIST";
        assert_eq!(MediaKind::sniff(avi), Some(MediaKind::OtherVideo));
        assert_eq!(MediaKind::sniff(b"RIFF\x10\0\0\0WAVEfmt "), None);
        let mkv = [0x1A, 0x45, 0xDF, 0xA3, 0x01, 0, 0, 0];
        assert_eq!(MediaKind::sniff(&mkv), Some(MediaKind::OtherVideo));
        // An AVI named .mp4 is an AVI.
        let named = MediaKind::from_name("v.mp4");
        assert_eq!(
            resolve_kind(named, MediaKind::sniff(avi)),
            MediaKind::OtherVideo
        );
    }

    #[test]
    fn extensions_are_case_insensitive() {
        assert_eq!(MediaKind::from_name("IMG_1.JPG"), Some(MediaKind::Jpeg));
        assert_eq!(MediaKind::from_name("a.HEIC"), Some(MediaKind::Heif));
        assert_eq!(MediaKind::from_name("v.MOV"), Some(MediaKind::IsoVideo));
        assert_eq!(
            MediaKind::from_name("PXL_20210102_221126856.MP~2"),
            Some(MediaKind::OtherVideo)
        );
        assert_eq!(MediaKind::from_name("a.jpg~1"), Some(MediaKind::Jpeg));
        assert_eq!(MediaKind::from_name("a.jpg~"), None);
        assert_eq!(MediaKind::from_name("a.jpg~x"), None);
        assert_eq!(MediaKind::from_name("x.json"), None);
        assert_eq!(MediaKind::from_name("noext"), None);
    }

    #[test]
    fn sniffing_beats_a_wrong_extension() {
        let heic = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic";
        assert_eq!(MediaKind::sniff(heic), Some(MediaKind::Heif));
        assert_eq!(
            resolve_kind(MediaKind::from_name("a.jpg"), MediaKind::sniff(heic)),
            MediaKind::Heif
        );
        assert_eq!(MediaKind::sniff(b"\xFF\xD8\xFF\xE0"), Some(MediaKind::Jpeg));
        assert_eq!(
            MediaKind::sniff(b"\0\0\0\x14ftypqt  "),
            Some(MediaKind::IsoVideo)
        );
        assert_eq!(MediaKind::sniff(b"hello"), None);
        assert_eq!(MediaKind::sniff(b"MM\0*\0\0\0\x08"), Some(MediaKind::Tiff));
        assert_eq!(
            resolve_kind(MediaKind::from_name("a.NEF"), MediaKind::sniff(b"II*\0")),
            MediaKind::Raw
        );
    }
}
