// Images on disk <-> float pixels, as the official colorize_real.py sees them.
//
// Reading (load_image): PNG (libpng), JPEG (libjpeg-turbo) and BMP (stb_image, Debian's libstb-dev, compiled into
// codec_bmp.cpp). Samples become floats in [0,1] exactly as torchvision's ToTensor makes them: an 8-bit sample v is
// v / 255.0f (float32 division). Beyond what the official code accepts (PIL `Image.open` + ToTensor, which only
// works for 8-bit gray and RGB), every layout is given the meaning PIL's `convert` would give it:
//   - gray, 1/2/4/8-bit               -> 1 channel (1-bit: 0 or 1, as ToTensor of PIL mode "1")
//   - gray + alpha                    -> 1 channel, alpha ignored (PIL LA -> L keeps L, no compositing)
//   - RGB, palette                    -> 3 channels (palette expanded)
//   - RGBA, palette with transparency -> 3 channels, alpha ignored (PIL RGBA -> RGB drops alpha; not composited
//                                        on black or white)
//   - 16-bit PNG (gray or RGB)        -> full precision, v / 65535.0f. (Official: PIL reads 16-bit gray as mode
//                                        I;16, which ToTensor turns into an unscaled int16 tensor the model
//                                        rejects, and 16-bit RGB as 8-bit; neither is usable there.)
//   - JPEG: gray -> 1 channel; YCbCr, RGB -> 3 channels; CMYK/YCCK -> RGB as PIL's convert computes it (with PIL's
//     assumption of Adobe's inverted CMYK). libjpeg-turbo with PIL's settings (libjpeg's defaults: accurate integer
//     IDCT, fancy upsampling), so the samples are PIL's. At most 500 scans (progressive JPEGs).
// EXIF orientation is not applied (neither PIL.Image.open nor the official code applies it), nor ICC profiles or
// PNG gamma. Every failure is a bigcolor::Error whose message starts with the file's path and says the problem:
// the file is missing or unreadable, empty, not a PNG/JPEG/BMP image, truncated, corrupt (bad PNG CRC, a decoder
// error, or JPEG data that libjpeg would complete or skip with a warning: a data segment that ends early, a bad
// Huffman code, ...), or larger than the limits below (checked from the header, before any pixel is decoded).
//
// Writing (save_image): .png (lossless, 8-bit, libpng) or .jpg/.jpeg (libjpeg, as PIL writes JPEGs by default:
// baseline, JFIF, the quality given, 4:2:0 chroma subsampling at every quality; a 1-channel image as a 1-component
// gray JPEG, which loads back gray; sides at most 65500), chosen by the extension (case-insensitive). Floats
// become 8-bit as torchvision's ToPILImage does: trunc(x * 255.0f) (the official code saves `ToPILImage()(x)`
// with PIL's default JPEG quality, 75: kOfficialJpegQuality). The file is written beside the target under a
// temporary name and renamed over it, so a failed save never leaves a partial file and never touches an existing
// one.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bigcolor/image.h"
#include "tensor/tensor.h"

namespace bigcolor {

// Largest image load_image accepts: each side at most kMaxImageSide pixels, and at most kMaxImagePixels in all
// (100 megapixels: 1.2 GB of float RGB).
inline constexpr int kMaxImageSide = 16384;
inline constexpr std::int64_t kMaxImagePixels = 100'000'000;

// Image, load_image and save_image are declared in bigcolor/image.h (public).

// The bytes save_image writes (the format from `path`'s extension), without writing them.
std::vector<std::uint8_t> encode_image(const std::string& path, const Image& image,
                                       int jpeg_quality = kOfficialJpegQuality);

// float -> 8-bit sample as ToPILImage: trunc(clamp(x, 0, 1) * 255.0f); NaN gives 0.
std::uint8_t float_to_u8(float x);

// What a file's name says about it, as torchvision's has_file_allowed_extension decides (the lower-cased name ends
// with the extension): Readable (.jpg .jpeg .png .bmp: what load_image decodes), Unsupported (.ppm .pgm .tif .tiff
// .webp: ImageFolder would list them, this reader cannot decode them), or Other (not an image).
enum class ImageFileKind { Readable, Unsupported, Other };
ImageFileKind image_file_kind(const std::string& name);
// The extensions of ImageFileKind::Readable, for messages.
inline constexpr const char* kReadableImageExtensions = ".jpg .jpeg .png .bmp (case-insensitive)";

// ToTensor: (1, C, H, W) F32 CPU, the image's channels as they are.
Tensor to_tensor(const Image& image);

// The model's input: ToTensor then, for 3 channels, torchvision's Grayscale on the tensor
// (0.2989 R + 0.587 G + 0.114 B, float32, in that order). (1, 1, H, W) F32 CPU.
Tensor to_gray(const Image& image);

}  // namespace bigcolor
