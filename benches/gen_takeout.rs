//! Generates a realistic synthetic Google Photos Takeout for benchmarks, deterministic from a
//! seed: `cargo run --release --example gen_takeout -- --out DIR [--media N] [--seed S]`.
//!
//! Media are real, decodable files: JPEGs encoded here (jpeg-encoder) from noisy gradients,
//! each with a real camera EXIF block; MP4 and MOV videos built on the fixtures with their
//! media data extended by incompressible bytes (as real video is); HEIC and PNG from the
//! fixtures. Every file is unique. All the sidecar naming quirks the matcher knows (see the
//! rule list in `src/takeout/matcher/`) appear, album folders hold copies of ~20% of the photos, and
//! sidecars are spread over other zips than their media.
//!
//! `--tiny` makes every media file a few hundred bytes: for memory runs with many sidecars.
//! `--zips N` spreads the export over N parts (Takeout's 52 parts of the guide's export:
//! `--zips 52`); `--entries N` stops at N zip entries (media, sidecars and the rest) instead
//! of at `--media` media entries.
//!
//! `--tgz-of ZIPDIR --out DIR` writes each zip of ZIPDIR again as a `.tgz` in DIR (the same
//! entries in the same order, gzip level 6 as GNU tar's `z`): the same export as Takeout's
//! other archive type.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

/// splitmix64: a tiny deterministic generator (reproducible output is all we need; no
/// statistical quality beyond that is required, so no crate).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

struct Args {
    out: PathBuf,
    media: usize,
    /// Stop at this many zip entries instead (0: at `media` media entries).
    entries: usize,
    zips: usize,
    seed: u64,
    tiny: bool,
    /// Photo sizes (KB), log-uniform between the two.
    photo_kb: (u64, u64),
    /// Video sizes (MB), uniform between the two.
    video_mb: (u64, u64),
    video_percent: u64,
}

fn parse_args() -> Args {
    let mut a = Args {
        out: PathBuf::new(),
        media: 10_000,
        entries: 0,
        zips: 4,
        seed: 42,
        tiny: false,
        photo_kb: (40, 250),
        video_mb: (1, 3),
        video_percent: 5,
    };
    let mut it = std::env::args().skip(1);
    let range = |s: String| {
        let (a, b) = s.split_once('-').expect("a range: MIN-MAX");
        (a.parse().expect("number"), b.parse().expect("number"))
    };
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--out" => a.out = it.next().expect("--out DIR").into(),
            "--media" => a.media = it.next().expect("--media N").parse().expect("number"),
            "--entries" => a.entries = it.next().expect("--entries N").parse().expect("number"),
            "--zips" => a.zips = it.next().expect("--zips N").parse().expect("number"),
            "--seed" => a.seed = it.next().expect("--seed S").parse().expect("number"),
            "--photo-kb" => a.photo_kb = range(it.next().expect("--photo-kb MIN-MAX")),
            "--video-mb" => a.video_mb = range(it.next().expect("--video-mb MIN-MAX")),
            "--video-percent" => a.video_percent = it.next().expect("N").parse().expect("number"),
            "--tiny" => a.tiny = true,
            other => panic!("unknown argument {other}; see the top of benches/gen_takeout.rs"),
        }
    }
    assert!(!a.out.as_os_str().is_empty(), "--out DIR is required");
    a
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/media")
            .join(name),
    )
    .unwrap()
}

/// JPEGs of increasing size, encoded once: photos are these with their own EXIF and comment.
fn jpeg_pool(rng: &mut Rng, tiny: bool) -> Vec<Vec<u8>> {
    let dims: Vec<(u16, u16)> = if tiny {
        vec![(16, 12)]
    } else {
        (0..14)
            .map(|i| {
                let w = (160.0 * 1.25f64.powi(i)) as u16;
                (w, w * 3 / 4)
            })
            .collect()
    };
    dims.into_iter()
        .map(|(w, h)| {
            let mut noise = vec![0u8; w as usize * h as usize * 3];
            rng.fill(&mut noise);
            let pixels: Vec<u8> = noise
                .chunks(3)
                .enumerate()
                .flat_map(|(i, n)| {
                    let (x, y) = ((i % w as usize) as u32, (i / w as usize) as u32);
                    let base = [(x * 255 / w as u32) as u8, (y * 255 / h as u32) as u8, 128];
                    [0, 1, 2].map(|c| base[c].wrapping_add(n[c] / 3))
                })
                .collect();
            let mut out = Vec::new();
            jpeg_encoder::Encoder::new(&mut out, 90)
                .encode(&pixels, w, h, jpeg_encoder::ColorType::Rgb)
                .unwrap();
            out
        })
        .collect()
}

/// The camera fixture's date taken (its EXIF says `+02:00`).
const CAMERA_DATE: &[u8] = b"2019:07:04 17:10:12";

/// A unique photo of about `target` bytes: a pool JPEG with camera EXIF and a comment. The
/// camera's date is `taken` (at the fixture's `+02:00`), as Google's would agree with; with
/// `None` it stays the fixture's (a camera whose clock was wrong, corrected in Google Photos).
fn photo(pool: &[Vec<u8>], exif_app1: &[u8], target: u64, id: u64, taken: Option<i64>) -> Vec<u8> {
    let base = pool
        .iter()
        .find(|j| j.len() as u64 >= target)
        .unwrap_or(pool.last().unwrap());
    let tag = format!("gpbackup benchmark photo {id}");
    let mut exif = exif_app1.to_vec();
    if let Some(t) = taken {
        let wall = chrono::DateTime::from_timestamp(t + 7200, 0)
            .expect("a date of 2010..2024")
            .format("%Y:%m:%d %H:%M:%S")
            .to_string();
        let mut at = 0;
        while let Some(k) = exif[at..]
            .windows(CAMERA_DATE.len())
            .position(|w| w == CAMERA_DATE)
        {
            exif[at + k..at + k + CAMERA_DATE.len()].copy_from_slice(wall.as_bytes());
            at += k + CAMERA_DATE.len();
        }
    }
    let mut out = Vec::with_capacity(base.len() + exif.len() + tag.len() + 8);
    out.extend_from_slice(&base[..2]);
    out.extend_from_slice(&exif);
    out.extend_from_slice(&[0xFF, 0xFE]);
    out.extend_from_slice(&((tag.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(tag.as_bytes());
    out.extend_from_slice(&base[2..]);
    out
}

/// The APP1 EXIF segment of the camera fixture.
fn camera_exif() -> Vec<u8> {
    let cam = fixture("camera.jpg");
    let at = cam
        .windows(10)
        .position(|w| w[0] == 0xFF && w[1] == 0xE1 && &w[4..10] == b"Exif\0\0")
        .expect("the camera fixture has EXIF");
    let len = u16::from_be_bytes([cam[at + 2], cam[at + 3]]) as usize;
    cam[at..at + 2 + len].to_vec()
}

/// A video of `size` bytes: the fixture with its trailing `mdat` extended by random bytes.
fn video(base: &[u8], size: u64, rng: &mut Rng) -> Vec<u8> {
    // A second, unreferenced mdat box after the file's own boxes: valid, and the bytes are
    // read and copied like real media data.
    let mut out = base.to_vec();
    let extra = size.saturating_sub(base.len() as u64).max(16) as usize;
    out.extend_from_slice(&((extra + 8) as u32).to_be_bytes());
    out.extend_from_slice(b"mdat");
    let start = out.len();
    out.resize(start + extra, 0);
    rng.fill(&mut out[start..]);
    out
}

fn isobmff_variant(base: &[u8], id: u64) -> Vec<u8> {
    let tag = format!("benchmark {id}");
    let mut out = base.to_vec();
    out.extend_from_slice(&((tag.len() + 8) as u32).to_be_bytes());
    out.extend_from_slice(b"free");
    out.extend_from_slice(tag.as_bytes());
    out
}

fn png_variant(base: &[u8], id: u64) -> Vec<u8> {
    // A tEXt chunk right after IHDR (8 + 25 bytes).
    let text = format!("Comment\0benchmark {id}");
    let mut chunk = Vec::new();
    chunk.extend_from_slice(&(text.len() as u32).to_be_bytes());
    chunk.extend_from_slice(b"tEXt");
    chunk.extend_from_slice(text.as_bytes());
    chunk.extend_from_slice(&crc32fast::hash(&[b"tEXt", text.as_bytes()].concat()).to_be_bytes());
    [&base[..33], &chunk[..], &base[33..]].concat()
}

fn sidecar(title: &str, taken: i64, rng: &mut Rng) -> Vec<u8> {
    let (lat, lon) = if rng.chance(70) {
        (
            rng.below(140_000) as f64 / 1000.0 - 70.0,
            rng.below(360_000) as f64 / 1000.0 - 180.0,
        )
    } else {
        (0.0, 0.0)
    };
    format!(
        r#"{{
  "title": "{title}",
  "description": "",
  "imageViews": "{views}",
  "creationTime": {{ "timestamp": "{created}", "formatted": "upload" }},
  "photoTakenTime": {{ "timestamp": "{taken}", "formatted": "taken" }},
  "geoData": {{ "latitude": {lat}, "longitude": {lon}, "altitude": 0.0, "latitudeSpan": 0.0, "longitudeSpan": 0.0 }},
  "geoDataExif": {{ "latitude": {lat}, "longitude": {lon}, "altitude": 0.0, "latitudeSpan": 0.0, "longitudeSpan": 0.0 }},
  "url": "https://photos.google.com/photo/AF1Qip",
  "googlePhotosOrigin": {{ "mobileUpload": {{ "deviceType": "ANDROID_PHONE" }} }}
}}
"#,
        views = rng.below(50),
        created = taken + 3600,
    )
    .into_bytes()
}

fn clip(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// Each zip of `zips` as a `.tgz` of the same entries in `out`, a thread per core.
fn tgz_of(zips: &Path, out: &Path) {
    std::fs::create_dir_all(out).unwrap();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(zips)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "zip"))
        .collect();
    paths.sort();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(zip) = paths.get(k) else { break };
                let name = zip.with_extension("tgz");
                let target = out.join(name.file_name().unwrap());
                let file = BufWriter::with_capacity(1 << 20, File::create(&target).unwrap());
                let gz = flate2::write::GzEncoder::new(file, flate2::Compression::new(6));
                let mut tar = tar::Builder::new(gz);
                let mut z = zip::ZipArchive::new(File::open(zip).unwrap()).unwrap();
                for i in 0..z.len() {
                    let mut f = z.by_index(i).unwrap();
                    if f.is_dir() {
                        continue;
                    }
                    let mut h = tar::Header::new_gnu();
                    h.set_size(f.size());
                    h.set_mode(0o644);
                    h.set_mtime(1_698_678_607);
                    h.set_entry_type(tar::EntryType::Regular);
                    let path = f.name().unwrap().to_string();
                    tar.append_data(&mut h, path, &mut f).unwrap();
                }
                tar.into_inner().unwrap().finish().unwrap().flush().unwrap();
            });
        }
    });
}

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    if let Some(k) = argv.iter().position(|a| a == "--tgz-of") {
        let out = argv.iter().position(|a| a == "--out").expect("--out DIR");
        tgz_of(Path::new(&argv[k + 1]), Path::new(&argv[out + 1]));
        return;
    }
    let args = parse_args();
    let mut rng = Rng(args.seed);
    std::fs::create_dir_all(&args.out).unwrap();
    let deflated = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .large_file(true);
    let mut zips: Vec<ZipWriter<BufWriter<File>>> = (0..args.zips)
        .map(|i| {
            let p = args
                .out
                .join(format!("takeout-20231030T151007Z-{:03}.zip", i + 1));
            ZipWriter::new(BufWriter::with_capacity(1 << 20, File::create(p).unwrap()))
        })
        .collect();
    let total = std::cell::Cell::new(0usize);
    let add =
        |zips: &mut Vec<ZipWriter<BufWriter<File>>>, part: usize, path: &str, bytes: &[u8]| {
            let z = &mut zips[part % args.zips];
            z.start_file(path, deflated).unwrap();
            z.write_all(bytes).unwrap();
            total.set(total.get() + 1);
        };
    let pool = jpeg_pool(&mut rng, args.tiny);
    let exif = camera_exif();
    let (heic, mov, mp4, png) = (
        fixture("iphone.heic"),
        fixture("live.mov"),
        fixture("clip.mp4"),
        fixture("screenshot.png"),
    );
    let albums: Vec<String> = (0..10)
        .map(|i| format!("Takeout/Google Photos/Album {i:02}"))
        .collect();
    for (k, a) in albums.iter().enumerate() {
        let meta =
            format!(r#"{{"title": "Album {k:02}", "description": "", "access": "protected"}}"#);
        add(&mut zips, k, &format!("{a}/metadata.json"), meta.as_bytes());
    }
    add(
        &mut zips,
        0,
        "Takeout/archive_browser.html",
        b"<html></html>",
    );

    let (mut count, mut bytes) = (0usize, 0u64);
    let mut i = 0u64;
    let more = |count: usize| {
        if args.entries > 0 {
            total.get() < args.entries
        } else {
            count < args.media
        }
    };
    while more(count) {
        i += 1;
        let taken = 1_262_304_000 + rng.below(14 * 365 * 86_400) as i64; // 2010..2024
        let year = 1970 + taken / 31_556_952;
        let dir = format!("Takeout/Google Photos/Photos from {year}");
        let stamp = format!(
            "2019{:02}{:02}_{:06}",
            1 + i % 12,
            1 + i % 28,
            i % 1_000_000
        );
        let media_part = rng.below(args.zips as u64) as usize;
        let side_part = if rng.chance(60) {
            media_part + 1
        } else {
            media_part
        };
        let kind = rng.below(100);
        let size_photo = if args.tiny {
            0
        } else {
            let (lo, hi) = (args.photo_kb.0 as f64, args.photo_kb.1 as f64);
            ((lo * (hi / lo).powf(rng.below(1000) as f64 / 1000.0)) * 1024.0) as u64
        };
        let mut put =
            |zips: &mut Vec<ZipWriter<BufWriter<File>>>, name: &str, data: &[u8], part: usize| {
                add(zips, part, &format!("{dir}/{name}"), data);
                bytes += data.len() as u64;
                count += 1;
            };
        if kind < args.video_percent && !args.tiny {
            // A video with its sidecar.
            let (lo, hi) = args.video_mb;
            let size = (lo + rng.below(hi - lo + 1)) << 20;
            let name = format!("VID_{stamp}.mp4");
            let v = video(&mp4, size, &mut rng);
            put(&mut zips, &name, &v, media_part);
            add(
                &mut zips,
                side_part,
                &format!("{dir}/{name}.json"),
                &sidecar(&name, taken, &mut rng),
            );
            continue;
        }
        // One camera in a hundred had its clock wrong, and the date was corrected in Google
        // Photos; the others agree with their sidecars.
        let camera_taken = (!i.is_multiple_of(100)).then_some(taken);
        let jpeg = photo(&pool, &exif, size_photo, i, camera_taken);
        match kind {
            // Live Photo: HEIC still with sidecar, MOV half without.
            k if k < args.video_percent + 3 => {
                let name = format!("IMG_{i:05}.HEIC");
                put(&mut zips, &name, &isobmff_variant(&heic, i), media_part);
                put(
                    &mut zips,
                    &format!("IMG_{i:05}.MOV"),
                    &isobmff_variant(&mov, i),
                    media_part,
                );
                add(
                    &mut zips,
                    side_part,
                    &format!("{dir}/{name}.json"),
                    &sidecar(&name, taken, &mut rng),
                );
            }
            // A screenshot.
            k if k < args.video_percent + 5 => {
                let name = format!("Screenshot_{stamp}.png");
                put(&mut zips, &name, &png_variant(&png, i), media_part);
                add(
                    &mut zips,
                    side_part,
                    &format!("{dir}/{name}.supplemental-metadata.json"),
                    &sidecar(&name, taken, &mut rng),
                );
            }
            // Long Pixel names: the sidecar name is cut to 46 characters.
            k if k < args.video_percent + 15 => {
                let name = format!("PXL_{stamp}_{i:03}.NIGHT.jpg");
                put(&mut zips, &name, &jpeg, media_part);
                let side = format!(
                    "{}.json",
                    clip(&format!("{name}.supplemental-metadata"), 46)
                );
                add(
                    &mut zips,
                    side_part,
                    &format!("{dir}/{side}"),
                    &sidecar(&name, taken, &mut rng),
                );
            }
            // A second upload with the same name: (1) moves after the extension.
            k if k < args.video_percent + 20 => {
                let name = format!("IMG_{i:05}.jpg");
                put(&mut zips, &name, &jpeg, media_part);
                add(
                    &mut zips,
                    side_part,
                    &format!("{dir}/{name}.json"),
                    &sidecar(&name, taken, &mut rng),
                );
                let again = photo(
                    &pool,
                    &exif,
                    size_photo,
                    i + 1_000_000_000,
                    camera_taken.map(|t| t + 60),
                );
                put(&mut zips, &format!("IMG_{i:05}(1).jpg"), &again, media_part);
                add(
                    &mut zips,
                    side_part,
                    &format!("{dir}/{name}(1).json"),
                    &sidecar(&name, taken + 60, &mut rng),
                );
            }
            // An edited copy sharing its original's sidecar.
            k if k < args.video_percent + 25 => {
                let name = format!("IMG_{stamp}.jpg");
                put(&mut zips, &name, &jpeg, media_part);
                let edited = photo(&pool, &exif, size_photo, i + 2_000_000_000, camera_taken);
                put(
                    &mut zips,
                    &format!("IMG_{stamp}-edited.jpg"),
                    &edited,
                    media_part,
                );
                add(
                    &mut zips,
                    side_part,
                    &format!("{dir}/{name}.json"),
                    &sidecar(&name, taken, &mut rng),
                );
            }
            // No sidecar at all (dated from the name).
            k if k < args.video_percent + 27 => {
                put(&mut zips, &format!("IMG_{stamp}.jpg"), &jpeg, media_part);
            }
            // The common case: old or new sidecar names.
            _ => {
                let name = format!("IMG_{stamp}.jpg");
                put(&mut zips, &name, &jpeg, media_part);
                let side = if rng.chance(50) {
                    format!("{name}.json")
                } else {
                    format!("{name}.supplemental-metadata.json")
                };
                add(
                    &mut zips,
                    side_part,
                    &format!("{dir}/{side}"),
                    &sidecar(&name, taken, &mut rng),
                );
                // ~20% of photos are also in an album, with their own sidecar.
                if rng.chance(25) {
                    let album = &albums[rng.below(albums.len() as u64) as usize];
                    let part = rng.below(args.zips as u64) as usize;
                    add(&mut zips, part, &format!("{album}/{name}"), &jpeg);
                    add(
                        &mut zips,
                        part,
                        &format!("{album}/{name}.json"),
                        &sidecar(&name, taken, &mut rng),
                    );
                    count += 1;
                    bytes += jpeg.len() as u64;
                }
            }
        }
    }
    for z in zips {
        z.finish().unwrap().flush().unwrap();
    }
    println!(
        "{count} media entries ({} zip entries), {} MB of media, in {} zips in {}",
        total.get(),
        bytes >> 20,
        args.zips,
        args.out.display()
    );
}
