#include "eval/networks.h"

#include "eval/lpips.h"
#include "models/inception.h"

namespace bigcolor::eval {

struct FidNetwork::Impl {
  InceptionFeatures net;
};

FidNetwork::FidNetwork(const std::string& path, const std::string& protocol, Device device)
    : impl_(new Impl{InceptionFeatures::load(path, device, parse_inception_protocol(protocol))}) {}
FidNetwork::~FidNetwork() = default;
Tensor FidNetwork::features(const Tensor& images) const { return impl_->net.features(images); }
std::string FidNetwork::protocol() const { return inception_protocol_name(impl_->net.protocol()); }

struct LpipsNetwork::Impl {
  Lpips net;
};

LpipsNetwork::LpipsNetwork(const std::string& vgg16_path, const std::string& lin_path, Device device)
    : impl_(new Impl{Lpips::load(vgg16_path, lin_path, device)}) {}
LpipsNetwork::~LpipsNetwork() = default;
std::vector<double> LpipsNetwork::distance(const Tensor& a, const Tensor& b) const {
  return impl_->net.distance(a, b);
}

}  // namespace bigcolor::eval
