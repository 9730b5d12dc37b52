"""Every notebook runs top to bottom from a clean kernel started in notebooks/, as when a user
opens it in Jupyter, against the installed package only; the numbers it prints are right."""

import glob
import itertools
import json
import math
import os

import numpy as np
import pytest

nbformat = pytest.importorskip("nbformat")
pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

from experiments.run_notebooks import (  # noqa: E402
    NOTEBOOKS,
    ROOT,
    execute,
    execute_notebook,
    key_numbers,
)

# Spread over the xdist workers by notebook (see tests/conftest.py): each has its own kernel.
XDIST_SPLIT_BY = "name"


def _bce(y, logit):
    return -(y * -np.log1p(np.exp(-logit)) + (1 - y) * -np.log1p(np.exp(logit)))


def check_01(k):
    assert k["entropy_bits"] == pytest.approx(1.75, abs=1e-6)
    assert k["cross_entropy_bits"] == pytest.approx(2.0, abs=1e-6)
    assert k["kl_bits"] == pytest.approx(0.25, abs=1e-6)
    assert k["js_disjoint_bits"] == pytest.approx(1.0, abs=1e-6)
    p, u = np.array([0.6, 0.3, 0.1]), np.full(3, 1 / 3)
    assert k["forward_at_uniform"] == pytest.approx(np.sum(p * np.log(p / u)), abs=1e-6)
    assert k["backward_at_uniform"] == pytest.approx(np.sum(u * np.log(u / p)), abs=1e-6)
    logits = np.array([2.0, -1.0, 0.5])
    assert k["multilabel_bce"] == pytest.approx(np.sum(_bce(np.array([1, 0, 1]), logits)), abs=1e-6)
    assert k["multiclass_ce"] == pytest.approx(
        -(logits[0] - np.log(np.exp(logits).sum())), abs=1e-6
    )
    joint = np.array([[0.30, 0.05], [0.10, 0.55]])
    prod = joint.sum(1)[:, None] * joint.sum(0)[None, :]
    assert k["mutual_information"] == pytest.approx(np.sum(joint * np.log(joint / prod)), abs=1e-6)


def check_02(k):
    assert k["poisson_mean_parameter"] == pytest.approx(3.0, abs=1e-6)
    assert k["poisson_kl"] == pytest.approx(math.log(1 / 4) - 1 + 4, abs=1e-6)
    assert k["largest_disagreement"] < 1e-6
    assert k["pythagorean_gap"] < 1e-6
    assert k["rayleigh_kl"] == pytest.approx(2 * math.log(2) - 0.75, abs=1e-6)


def check_03(k):
    assert 4.7 < k["critical_local"] < 4.95
    assert 5.5 < k["critical_global"] < 5.7
    assert k["worst_reverse_error"] < 0.05  # 300 steps in the fast configuration


def check_04(k):
    assert k["bounds_hold"] == 1.0
    assert k["k2_bias"] > 0.005  # k2 is biased upwards on this pair


def check_05(k):
    betas = sorted(float(name[len("kl_beta_") :]) for name in k if name.startswith("kl_beta_"))
    kls = [k[f"kl_beta_{b:g}"] for b in betas]
    recons = [k[f"recon_beta_{b:g}"] for b in betas]
    assert len(betas) >= 2
    assert all(a > b > 0 for a, b in itertools.pairwise(kls)), kls  # beta pulls q(z|x) to the prior
    assert all(a < b for a, b in itertools.pairwise(recons)), recons  # and costs reconstruction


def _normal_to_student_kl(df):
    """KL(N(0, 1) || t_df) by scipy's QUADPACK over scipy.stats densities."""
    from scipy import integrate, stats

    def integrand(x):
        return stats.norm.pdf(x) * (stats.norm.logpdf(x) - stats.t.logpdf(x, df))

    return integrate.quad(integrand, -np.inf, np.inf, epsabs=0.0, epsrel=1e-12, limit=200)[0]


def _mixture_kl():
    """KL(p || q) of notebook 06's pair of 1-D Gaussian mixtures by scipy's QUADPACK."""
    from scipy import integrate, special, stats

    def logpdf(w, m, s, x):
        return special.logsumexp(np.log(w) + stats.norm.logpdf(x, np.array(m), np.array(s)))

    def integrand(x):
        log_p = logpdf((0.3, 0.7), (-2.0, 1.0), (0.6, 1.2), x)
        log_q = logpdf((0.5, 0.5), (-1.0, 1.5), (1.0, 1.0), x)
        return np.exp(log_p) * (log_p - log_q)

    return integrate.quad(integrand, -np.inf, np.inf, epsabs=0.0, epsrel=1e-12, limit=200)[0]


def check_06(k):
    # NumPyro's own KL, entropy and gradients agree with jaxdiv's on the model's three sites
    assert k["numpyro_kl_gap"] < 1e-12
    assert k["numpyro_quadrature_gap"] < 1e-9
    assert k["numpyro_entropy_gap"] < 1e-12
    assert k["numpyro_grad_gap"] < 1e-10
    # Normal vs Student-t by quadrature against scipy.integrate.quad, and its large-df limit
    for df in (0.5, 1.0, 3.0, 30.0):
        truth = _normal_to_student_kl(df)
        assert k[f"kl_normal_student_df_{df:g}"] == pytest.approx(truth, rel=1e-8), df
    assert k["student_largest_relative_error_estimate"] < 1e-8
    assert 0.95 < k["student_asymptote_ratio_at_largest_df"] < 1.05  # KL ~ 7 / (4 nu^2)
    # Monte Carlo within 4 standard errors of the quadrature, which scipy confirms
    assert k["mixture_kl_quadrature"] == pytest.approx(_mixture_kl(), rel=1e-8)
    for e in ("k1", "k3"):
        assert k[f"mixture_worst_z_{e}"] < 4, e
        # the standard error shrinks like n^(-1/2)
        expected = math.sqrt(k["mixture_size_ratio"])
        assert 0.5 * expected < k[f"mixture_se_ratio_{e}"] < 2 * expected, e
    # auto's value is bit for bit that of the documented route, on every pair
    assert k["routes_checked"] >= 12
    assert k["routes_agree"] == k["routes_checked"]
    if "closed_form_vs_quadrature_relative" in k:  # the full configuration only
        assert k["closed_form_vs_quadrature_relative"] < 1e-8
        assert k["monte_carlo_worst_z"] < 4


def check_07(k):
    assert abs(k["knn_entropy_error"]) < 0.2  # Kozachenko-Leonenko, Gaussian in d = 5
    assert abs(k["ksg_error"]) < 0.1  # KSG, rho = 0.9
    assert k["knn_entropy_spread_ratio"] > 2  # the spread shrinks with n
    assert k["infonce_top"] <= k["log_n"] + 1e-6  # InfoNCE never passes log N ...
    assert k["infonce_top"] < k["mi_top"] - 1.5  # ... so it saturates below the truth
    assert k["dv_top"] > k["log_n"]  # DV climbs past it
    for name in ("infonce", "nwj", "dv"):
        assert abs(k[f"{name}_bottom"] - k["mi_bottom"]) < 0.5, name
    assert k["ib_max_i_ty"] <= k["ib_i_xy"] + 1e-6  # data processing
    assert k["ib_max_i_xt"] <= math.log(16) + 1e-6
    assert k["ib_smallest_beta_i_xt"] < 0.01  # beta < 1: the trivial encoder
    assert k["ib_largest_beta_i_ty"] > 0.9 * k["ib_i_xy"]


def check_08(k):
    perplexities = (5, 30, 100)
    for perp in perplexities:
        assert k[f"perplexity_error_{perp}"] < 1e-3  # the bisection hits the target perplexity
        assert k[f"kl_final_{perp}"] < 0.5 * k[f"kl_start_{perp}"]
        assert k[f"knn_accuracy_{perp}"] > 0.9  # digits stay with their kind in the plane
    sigmas = [k[f"sigma_median_{perp}"] for perp in perplexities]
    assert all(a < b for a, b in itertools.pairwise(sigmas)), sigmas  # wider at higher perplexity


def check_09(k):
    assert k["initial_loss"] == pytest.approx(k["log_vocab"], abs=1.0)  # near uniform at the start
    assert k["fused_unfused_loss_gap"] < 1e-4 and k["fused_unfused_grad_gap"] < 1e-4
    assert k["step_memory_ratio"] < 1.0  # the fused step holds no [tokens, vocab] logits
    assert k["large_loss_memory_ratio"] < 0.05  # at 8,192 x 131,072, compiled
    assert k["teacher_final_train"] < k["initial_loss"] - 1.0
    # No model beats the language's entropy on held-out tokens (estimation noise allowed).
    assert k["teacher_held_out"] > k["true_entropy"] - 0.05
    for name in ("distilled", "labels"):
        assert k[f"kl_final_{name}"] < k[f"kl_start_{name}"]
        assert k["true_entropy"] - 0.05 < k[f"held_out_{name}"] < k["log_vocab"] + 1.0
    assert k["kl_final_distilled"] < k["kl_final_labels"]  # the KL term pulls to the teacher


CHECKS = {
    "01_entropy_cross_entropy_kl": check_01,
    "02_exponential_families_bregman": check_02,
    "03_forward_vs_reverse_kl": check_03,
    "04_mixture_kl_estimators": check_04,
    "05_vae_beta_kl": check_05,
    "06_any_pair": check_06,
    "07_information_from_samples": check_07,
    "08_tsne": check_08,
    "09_language_model_losses": check_09,
}


def test_the_kernel_runs_in_notebooks_without_the_repository_on_its_path(monkeypatch):
    """Notebook 03 imported `experiments`, which only the repository root provides: it ran in
    the tests (started from the root) and failed when opened from notebooks/."""
    monkeypatch.setenv("PYTHONPATH", ROOT)  # even when the caller has the root on its path
    probe = (
        "import importlib.util, json, os, sys\n"
        "import jaxdiv\n"
        "print(json.dumps({'cwd': os.getcwd(), 'path': [os.path.abspath(p) for p in sys.path],"
        " 'experiments': importlib.util.find_spec('experiments') is not None}))"
    )
    nb = execute_notebook(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(probe)]))
    text = "".join(o.get("text", "") for o in nb.cells[0].outputs if o.get("name") == "stdout")
    seen = json.loads(text)
    assert os.path.samefile(seen["cwd"], NOTEBOOKS)
    assert ROOT not in seen["path"] and not seen["experiments"]


def test_no_notebook_imports_the_experiments():
    for path in glob.glob(os.path.join(NOTEBOOKS, "*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
        assert "experiments" not in code, os.path.basename(path)


def test_every_notebook_is_checked():
    names = {os.path.basename(p)[:-6] for p in glob.glob(os.path.join(NOTEBOOKS, "*.ipynb"))}
    assert names == set(CHECKS)


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_stored_with_outputs(name):
    nb = nbformat.read(os.path.join(NOTEBOOKS, f"{name}.ipynb"), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code), "run it with make notebooks"
    outputs = [o for c in code for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs), "figures must be stored"
    CHECKS[name](key_numbers(nb))  # the stored (full) run passes the same checks


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_runs_from_a_clean_kernel(name):
    nb = execute(os.path.join(NOTEBOOKS, f"{name}.ipynb"), fast=True, timeout=300)
    CHECKS[name](key_numbers(nb))


def test_an_unknown_notebook_name_is_an_error(capsys):
    """``run_notebooks --check nosuch`` used to run nothing and exit 0, like a passing check."""
    from experiments import run_notebooks

    with pytest.raises(SystemExit) as info:
        run_notebooks.main(["--check", "nosuch"])
    assert info.value.code == 2
    assert "no notebook matches 'nosuch'" in capsys.readouterr().err
