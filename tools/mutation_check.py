#!/usr/bin/env python3
"""Breaks each CPU backward (ops, fused kernels, layers, networks) on purpose, one at a time, and checks that the
test suite notices.

Works on a throw-away copy of the tree (the checkout is never modified): for every mutation below it applies one
textual change to one source file, rebuilds the test runner, runs the CPU suites, and expects a failure. Prints one
line per mutation and exits non-zero if any mutation survived (no test failed) or did not apply.

    python3 tools/mutation_check.py            # about 15 minutes on 2 cores
"""
import pathlib
import shutil
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
CPU = "src/kernels/cpu/"
LAYERS = "src/layers/"
MODELS = "src/models/"
TRAIN = "src/train/"

# (file, original text, broken text, what the break means). Each original must occur exactly once.
MUTATIONS = [
    (CPU + "conv2d.cpp", "db[o] += static_cast<float>(s);", "db[o] += 0.5f * static_cast<float>(s);", "conv d_bias halved"),
    (CPU + "conv2d.cpp", "dw[(o * g.in_c + c) * g.taps() + t] += d_taps", "dw[(o * g.in_c + c) * g.taps() + t] -= d_taps", "conv d_weight negated"),
    (CPU + "conv2d.cpp", "chunk.data(),\n                  n, 1.0f, slice", "chunk.data(),\n                  n, 0.0f, slice", "conv d_in taps overwrite instead of adding"),
    (CPU + "conv2d.cpp", "sgemm(false, true, g.out_c, g.in_c, out_hw, 1.0f, dy", "sgemm(false, true, g.out_c, g.in_c, out_hw, 2.0f, dy", "1x1 conv d_weight doubled"),
    (CPU + "linear.cpp", "acc[j] += static_cast<float>(s);", "acc[j] = static_cast<float>(s);", "linear d_bias overwrites"),
    (CPU + "linear.cpp", "in.data<float>(), in_f, 1.0f, d_weight", "in.data<float>(), in_f, 0.0f, d_weight", "linear d_weight overwrites"),
    (CPU + "linear.cpp", "sgemm(false, false, batch, in_f, out_f, 1.0f, dy", "sgemm(false, false, batch, in_f, out_f, -1.0f, dy", "linear d_in negated"),
    (CPU + "linear.cpp", "row[j] += g[j];", "row[j] = g[j];", "embedding backward overwrites repeated rows"),
    (CPU + "linear.cpp", "sgemm(false, !trans_b, m, k, n", "sgemm(false, trans_b, m, k, n", "bmm d_a wrong transpose"),
    (CPU + "linear.cpp", "sgemm(true, trans_a, n, k, m, 1.0f", "sgemm(true, trans_a, n, k, m, 0.5f", "bmm d_b (trans_b) halved"),
    (CPU + "elementwise.cpp", "(g[r * cols + j] - static_cast<float>(dot))", "g[r * cols + j]", "softmax backward without the dot term"),
    (CPU + "elementwise.cpp", "return y[i] > 0.0f ? g[i] : 0.0f;", "return g[i];", "relu backward ignores the mask"),
    (CPU + "elementwise.cpp", "g[i] * (1.0f - y[i] * y[i])", "g[i] * (1.0f - y[i])", "tanh backward wrong derivative"),
    (CPU + "elementwise.cpp", "[g, y](std::int64_t i) { return g[i] * y[i]; }", "[g, y](std::int64_t i) { return g[i] + 0.0f * y[i]; }", "mul d_a ignores b"),
    (CPU + "elementwise.cpp", "scale_forward(d_in, d_out, factor); }", "scale_forward(d_in, d_out, 1.0f); }", "scale backward ignores the factor"),
    (CPU + "elementwise.cpp", "if (d_b.defined()) d_b.copy_from(d_out);", "if (d_b.defined()) d_b.zero();", "add d_b zeroed"),
    (CPU + "pooling.cpp", "q[0] + q[1] + q[ow] + q[ow + 1]", "q[0] + q[1] + q[ow]", "upsample backward misses a pixel"),
    (CPU + "pooling.cpp", "const float v = 0.25f * g[", "const float v = 0.5f * g[", "avgpool backward wrong scale"),
    (CPU + "pooling.cpp", "argmax_2x2(plane, p.w, i, j)] = g[", "argmax_2x2(plane, p.w, i, j)] = 0.5f * g[", "maxpool backward halved"),
    (CPU + "batchnorm.cpp", "(dy[k] - mean_dy - xhat * mean_dy_xhat)", "(dy[k] - mean_dy)", "batchnorm d_in without the variance path"),
    (CPU + "batchnorm.cpp", "d_weight.data<float>()[c] += static_cast<float>(sum_dy_xhat);", "d_weight.data<float>()[c] += static_cast<float>(sum_dy);", "batchnorm d_weight wrong"),
    (CPU + "batchnorm.cpp", "d_bias.data<float>()[c] += static_cast<float>(sum_dy);", "d_bias.data<float>()[c] = static_cast<float>(sum_dy);", "batchnorm d_bias overwrites"),
    (CPU + "reduce.cpp", "dx[i * inner + j] = g[i] * scale;", "dx[i * inner + j] = g[0] * scale;", "sum/mean backward broadcasts the wrong element"),
    (CPU + "reduce.cpp", "average ? 1.0f / static_cast<float>(inner) : 1.0f;", "1.0f;", "mean backward without 1/n"),
    (CPU + "reduce.cpp", "const float scale = 2.0f * d_out", "const float scale = d_out", "mse backward without the factor 2"),
    (CPU + "reduce.cpp", "if (db) db[i] = -g;", "if (db) db[i] = g;", "mse d_b sign"),
    # The fused BigGAN kernels' CPU twins.
    (CPU + "spectral_norm.cpp", "dw[e] + g[e] * inv_sigma - cu * vv[j]", "dw[e] + g[e] * inv_sigma", "spectral norm backward without the sigma correction"),
    (CPU + "ccbn.cpp", "(gz * gn - mean_g - xhat * mean_gx)", "(gz * gn - mean_g)", "ccbn d_in without the variance path"),
    (CPU + "ccbn.cpp", "if (dg) dg[pl] = static_cast<float>(s_gzx);", "if (dg) dg[pl] = static_cast<float>(s_gz);", "ccbn d_gain wrong"),
    (CPU + "attention.cpp", "row[j] = prow[j] * (row[j] - dsum[i]);", "row[j] = prow[j] * row[j];", "attention backward without the softmax's D term"),
    (CPU + "attention.cpp", "p.data(), a.m, beta, d_g", "p.data(), a.m, 0.0f, d_g", "attention d_g keeps only the last query block"),
    (CPU + "upconv.cpp", "db[o] += static_cast<float>(s);", "db[o] = static_cast<float>(s);", "upconv d_bias overwrites"),
    (CPU + "upconv.cpp", "dw[(o * g.in_c + c) * 9 + t] += dwt", "dw[(o * g.in_c + c) * 9 + t] -= dwt", "upconv d_weight negated"),
    (CPU + "upconv.cpp", "1.0f, wt.data(), g.in_c, pooled.data()", "0.5f, wt.data(), g.in_c, pooled.data()", "upconv d_in halved"),
    # Layers and networks.
    (LAYERS + "norms.cpp", "ops::add_forward(g.d_y, d_y_gain, d_y_bias);", "g.d_y.copy_from(d_y_gain);", "conditional norm d_y without the bias path"),
    (LAYERS + "norms.cpp", "ops::relu_backward(d_norm, d_out, s.out);", "d_norm.copy_from(d_out);", "BatchNorm backward ignores its ReLU"),
    (LAYERS + "attention.cpp", "ops::sum_forward(d_gamma, fn::mul(d_out, s.o_out));", "ops::sum_forward(d_gamma, d_out);", "attention d_gamma wrong"),
    (LAYERS + "attention.cpp", "fn::add_into(d_x, phi.backward(", "(void)(phi.backward(", "attention d_x misses the phi branch"),
    (LAYERS + "blocks.cpp", "  g.d_y = fn::add(g1.d_y, g2.d_y);", "  g.d_y = g1.d_y;", "GBlock d_y misses bn2"),
    (LAYERS + "blocks.cpp", "    fn::add_into(d_x, d_sc);", "", "DBlock d_x misses the shortcut"),
    (LAYERS + "blocks.cpp", "  g.d_c = fn::add(g1.d_y, g2.d_y);", "  g.d_c = g2.d_y;", "ResConvBlock d_c misses normalize_1"),
    (MODELS + "colorizer.cpp", "out.d_c_embed = fn::add(g.d_y, e.d_c);", "out.d_c_embed = g.d_y;", "colorizer d_c misses the encoder"),
    (MODELS + "discriminator.cpp", "fn::add_into(d_pooled, fn::mul(d_broadcast, s.embedded));", "", "discriminator d_h misses the projection"),
    (MODELS + "generator.cpp", "ops::copy_columns(g.d_z, (i + 1) * chunk, block.d_y", "ops::copy_columns(g.d_z, i * chunk, block.d_y", "generator d_z chunks misrouted"),
    # the training step (caught by the parity test with the official step, tests/test_training_parity.cpp)
    (TRAIN + "optimizer.cpp", "std::sqrt(bias_correction2)", "bias_correction2", "Adam without the square root of its bias correction"),
    (TRAIN + "optimizer.cpp", "(1.0 + t) / (10.0 + t)", "decay_", "EMA without torch_ema's warm-up"),
    (CPU + "optimizer.cpp", "v[i] = v[i] * beta2 + one_minus_beta2 * g[i] * g[i];", "v[i] = v[i] * beta2 + one_minus_beta2 * g[i];", "Adam's second moment of g, not g squared"),
    (TRAIN + "perceptual.cpp", "fn::mul(fn::add(crop.reshape({b, 3, kCrop, kCrop}), p.minus_mean), p.inv_std)", "fn::add(crop.reshape({b, 3, kCrop, kCrop}), p.minus_mean)", "perceptual loss without dividing by the std"),
    (TRAIN + "perceptual.cpp", "fn::mul(d_out, p.inv_std).reshape", "fn::scale(d_out, 1.0f).reshape", "perceptual backward misses the normalization's 1/std"),
    (MODELS + "vgg16.cpp", "kFeatureSlot = {0, 1, -1, -1, -1, 2, -1, -1, 3};", "kFeatureSlot = {0, 1, -1, -1, 2, -1, -1, -1, 3};", "perceptual feature relu3_1 instead of relu3_2"),
    (TRAIN + "trainer.cpp", "hinge(d_.forward(real, classes), -1.0f, 0.5f)", "hinge(d_.forward(real, classes), -1.0f, 1.0f)", "D's real hinge gradient not halved"),
    (TRAIN + "trainer.cpp", "fn::add_into(d_fake, fn::scale(d_fake01, 0.5f));", "fn::add_into(d_fake, d_fake01);", "the (fake + 1) / 2 gradient not halved"),
]


def run(cmd, cwd):
    return subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def main():
    work = pathlib.Path(tempfile.mkdtemp(prefix="bigcolor-mutation-"))
    tree = work / "tree"
    shutil.copytree(ROOT, tree, ignore=shutil.ignore_patterns(".git", "build*", ".deps"))
    build = work / "build"
    configure = ["cmake", "-S", str(tree), "-B", str(build), "-DBIGCOLOR_CUDA=OFF", "-DBIGCOLOR_BUILD_BENCH=OFF"]
    if run(configure, tree).returncode != 0:
        sys.exit("configure failed")
    compile_cmd = ["cmake", "--build", str(build), "-j2", "--target", "bigcolor_tests"]
    test_cmd = [str(build / "bigcolor_tests"), "--test-suite-exclude=cuda", "--minimal"]
    if run(compile_cmd, tree).returncode != 0 or run(test_cmd, tree).returncode != 0:
        sys.exit("the unmutated tree does not build or pass its tests")
    survivors = 0
    for path, original, broken, meaning in MUTATIONS:
        source = tree / path
        text = source.read_text()
        if text.count(original) != 1:
            print(f"NOT APPLIED  {meaning}: text found {text.count(original)} times in {path}")
            survivors += 1
            continue
        source.write_text(text.replace(original, broken))
        try:
            if run(compile_cmd, tree).returncode != 0:
                print(f"NOT BUILT    {meaning}")
                survivors += 1
                continue
            result = run(test_cmd, tree)
            caught = result.returncode != 0
            print(f"{'caught' if caught else 'SURVIVED':12} {meaning}")
            survivors += not caught
        finally:
            source.write_text(text)
    shutil.rmtree(work)
    print(f"{len(MUTATIONS) - survivors} of {len(MUTATIONS)} mutations caught")
    sys.exit(1 if survivors else 0)


if __name__ == "__main__":
    main()
