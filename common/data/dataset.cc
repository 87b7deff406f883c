#include "common/data/dataset.h"

#include <cstring>
#include <filesystem>

#include "common/format/idx.h"

namespace bt {

ImageDataset ImageDataset::Slice(int64_t begin, int64_t end) const {
  return {images.slice(0, begin, end), labels.slice(0, begin, end)};
}

absl::StatusOr<ImageDataset> LoadFashionMnist(const std::string& dir, const std::string& split) {
  std::string prefix;
  if (split == "train") prefix = "train";
  else if (split == "test") prefix = "t10k";
  else return absl::InvalidArgumentError(absl::StrCat("unknown split '", split, "' (train or test)"));
  std::filesystem::path base(dir);
  auto images = ReadIdxFile((base / (prefix + "-images-idx3-ubyte")).string());
  if (!images.ok()) {
    return Annotate(images.status(),
                    absl::StrCat("Fashion-MNIST not found in '", dir, "' (Debian package dataset-fashion-mnist)"));
  }
  ASSIGN_OR_RETURN(IdxArray labels, ReadIdxFile((base / (prefix + "-labels-idx1-ubyte")).string()));
  if (images->dims.size() != 3 || labels.dims.size() != 1 || images->dims[0] != labels.dims[0]) {
    return absl::DataLossError(absl::StrCat("Fashion-MNIST ", split, " images and labels do not match"));
  }
  for (size_t i = 0; i < labels.data.size(); ++i) {
    if (labels.data[i] >= kFashionMnistClasses) {
      return absl::DataLossError(absl::StrCat("Fashion-MNIST ", split, " label ", i, " is ", int{labels.data[i]},
                                              ", not a class in [0, ", kFashionMnistClasses, ")"));
    }
  }
  const int64_t n = images->dims[0], h = images->dims[1], w = images->dims[2];
  ImageDataset out;
  torch::Tensor raw = torch::empty({n, 1, h, w}, torch::kUInt8);
  std::memcpy(raw.data_ptr(), images->data.data(), images->data.size());
  out.images = raw.to(torch::kFloat32).div_(255.0);
  torch::Tensor raw_labels = torch::empty({n}, torch::kUInt8);
  std::memcpy(raw_labels.data_ptr(), labels.data.data(), labels.data.size());
  out.labels = raw_labels.to(torch::kInt64);
  return out;
}

torch::Tensor NormalizeImages(const torch::Tensor& unit_images) { return unit_images.sub(0.5).div(0.5); }

}  // namespace bt
