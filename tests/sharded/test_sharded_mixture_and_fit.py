"""The mixture likelihood and the experiments' forward fit with samples split over devices."""

import chex
import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from experiments import gmm
from jaxdiv import mixture
from jaxdiv.mixture import GaussianMixture


def test_negative_log_likelihood_with_samples_split_over_four_devices():
    model = GaussianMixture.univariate(
        np.array([0.3, 0.7]), np.array([-2.0, 1.5]), np.array([0.7, 1.2])
    )
    x = np.random.default_rng(0).normal(size=(1000, 1)) * 2
    mask = np.arange(1000) < 997
    params = model.unconstrained()

    def loss(params, x, mask):
        m = GaussianMixture.from_unconstrained(**params)
        return mixture.negative_log_likelihood(m, x, where=mask)

    step = jax.jit(jax.value_and_grad(loss))
    want = step(params, x, mask)
    mesh = Mesh(np.array(jax.devices()[:4]), ("data",))
    shard = NamedSharding(mesh, PartitionSpec("data"))
    xs, ms = jax.device_put(x, shard), jax.device_put(mask, shard)
    assert len(xs.sharding.device_set) == 4
    got = step(params, xs, ms)
    chex.assert_trees_all_close(got, want, rtol=1e-12)


def test_forward_fit_is_data_parallel_over_all_devices():
    x = gmm.shard_rows(np.arange(16.0)[:, None])
    assert len(x.sharding.device_set) == len(jax.devices()) == 8
    # a forward fit draws --num-data rounded up to a multiple of the device count
    config = gmm.FitConfig(divergence="forward", steps=5, restarts=1, num_data=10)
    result = gmm.fit(config)
    assert result.kl_method == "quadrature" and np.isfinite(result.forward_kl).all()
