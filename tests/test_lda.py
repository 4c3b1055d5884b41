"""VariationalLDA against scikit-learn's LatentDirichletAllocation, known corpora, bad input."""

import copy
import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from scipy.optimize import linear_sum_assignment
from sklearn.decomposition import LatentDirichletAllocation

import skvi._special as special_module
import skvi.decomposition._estep as estep_module
import skvi.decomposition._lda as lda_module
from skvi.datasets import load_stdlib_docstrings, make_lda_corpus
from skvi.decomposition import VariationalLDA
from skvi.decomposition._estep import document_e_step, exp_dirichlet_expectation

from elbo_checks import assert_elbo_monotone

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

SPARSE_FORMATS = ["csr", "csc", "coo", "lil", "dok", "bsr", "dia"]


@pytest.fixture(scope="module")
def corpus():
    X, theta, beta = make_lda_corpus(300, 120, 4, doc_length=40, random_state=0)
    return X, theta, beta


def _sklearn_psi(x, out=None):
    """scikit-learn's digamma (``_online_lda_fast.psi``), vectorised: its asymptotic
    series is accurate to ~1e-9, so matching its iterates to 1e-9 needs the same psi."""
    x = np.array(x, dtype=np.float64, copy=True)
    result = np.zeros_like(x)
    small = x <= 1e-6
    result[small] = -0.5772156649015329 - 1.0 / x[small]
    big = ~small
    xb, rb = x[big], np.zeros(big.sum())
    for _ in range(6):
        shift = xb < 6
        rb[shift] -= 1.0 / xb[shift]
        xb = np.where(shift, xb + 1, xb)
    r = 1.0 / xb
    rb += np.log(xb) - 0.5 * r
    r = r * r
    rb -= r * ((1.0 / 12) - r * ((1.0 / 120) - r * (1.0 / 252)))
    result[big] = rb
    if out is not None:
        out[...] = result
        return out
    return result


def _one_sweep_both(X, K, monkeypatch=None):
    """One batch sweep of scikit-learn and of skvi from the same topics and gammas."""
    sk = LatentDirichletAllocation(n_components=K, random_state=0)
    sk._init_latent_vars(X.shape[1])
    state = copy.deepcopy(sk.random_state_)
    gamma0 = state.gamma(100.0, 0.01, (X.shape[0], K))  # what sklearn's E-step draws
    sk_gamma, sk_sstats = sk._e_step(X, cal_sstats=True, random_init=True)
    sk_components = sk.topic_word_prior_ + sk_sstats  # its batch M-step

    ours = VariationalLDA(n_components=K)
    ours._validate_params()
    ours._check_priors(X, None)
    ours._set_variational_params({"components_": sk.components_.copy()})
    ours.n_batch_iter_ = 1
    ours._fresh_gamma = lambda X_: gamma0  # same start as scikit-learn's sweep
    stats = ours._local_step(sp.csr_matrix(X), None)
    gamma = ours._doc_topic_gamma
    ours._global_step(stats, 1.0)
    return (sk_gamma, sk_components), (gamma, ours.components_)


def test_batch_sweep_matches_sklearn(corpus):
    X = corpus[0]
    (sk_gamma, sk_lambda), (gamma, lam) = _one_sweep_both(X, 5)
    # scikit-learn's digamma is an approximation (error ~1e-9), so to the E-step's
    # tolerance only: the next test removes that difference.
    assert_allclose(gamma, sk_gamma, rtol=1e-5, atol=1e-6)
    assert_allclose(lam, sk_lambda, rtol=1e-6)


def test_batch_sweep_matches_sklearn_to_rounding_with_its_digamma(corpus, monkeypatch):
    X = corpus[0]
    monkeypatch.setattr(estep_module, "digamma", _sklearn_psi)
    monkeypatch.setattr(lda_module, "digamma", _sklearn_psi)
    monkeypatch.setattr(special_module, "digamma", _sklearn_psi)  # E[log beta] lives there
    (sk_gamma, sk_lambda), (gamma, lam) = _one_sweep_both(X, 5)
    assert_allclose(gamma, sk_gamma, rtol=1e-9, atol=1e-10)
    assert_allclose(lam, sk_lambda, rtol=1e-10)


def test_transform_score_perplexity_match_sklearn_with_the_same_topics(corpus):
    X = corpus[0]
    sk = LatentDirichletAllocation(n_components=4, max_iter=3, random_state=0).fit(X)
    ours = VariationalLDA(n_components=4, max_iter=1, random_state=0).fit(X)
    ours._set_variational_params({"components_": sk.components_.copy()})
    assert_allclose(ours.transform(X), sk.transform(X), rtol=1e-5, atol=1e-7)
    assert_allclose(ours.score(X), sk.score(X), rtol=1e-8)
    assert_allclose(ours.perplexity(X), sk.perplexity(X), rtol=1e-8)
    assert_allclose(
        ours.perplexity(X, sub_sampling=True), sk.perplexity(X, sub_sampling=True), rtol=1e-8
    )
    assert_allclose(ours.exp_dirichlet_component_, sk.exp_dirichlet_component_, rtol=1e-8)


@pytest.mark.parametrize("learning_decay", [0.7, 0.5, 0.0])  # 0.0: rho = 1, a full fold
def test_partial_fit_matches_sklearn(corpus, monkeypatch, learning_decay):
    X = corpus[0]
    monkeypatch.setattr(estep_module, "digamma", _sklearn_psi)
    monkeypatch.setattr(lda_module, "digamma", _sklearn_psi)
    monkeypatch.setattr(lda_module, "digamma_about", lambda x, _, out: _sklearn_psi(x, out=out))
    params = dict(n_components=4, random_state=0, batch_size=50, learning_decay=learning_decay)
    sk = LatentDirichletAllocation(**params)
    ours = VariationalLDA(**params)
    for _ in range(2):
        sk.partial_fit(X)
        ours.partial_fit(X)
    assert ours.n_batch_iter_ == sk.n_batch_iter_
    # (pseudo-counts up to 5e5, total_samples=1e6, through two passes; with rho = 1 every
    # step replaces the topics, which amplifies rounding)
    assert_allclose(ours.components_, sk.components_, rtol=1e-6 if learning_decay == 0 else 1e-7)


def test_batch_fit_elbo_monotone_converges_and_recovers_topics(corpus):
    X, _, beta = corpus
    lda = VariationalLDA(n_components=4, max_iter=200, tol=1e-6, n_init=3, random_state=0)
    lda.fit(X)
    assert lda.converged_
    assert_elbo_monotone(lda.elbo_history_)
    assert lda.bound_ == pytest.approx(np.exp(-lda.elbo_ / X.sum()))
    topics = lda.components_ / lda.components_.sum(axis=1, keepdims=True)
    cos = (topics @ beta.T) / np.outer(
        np.linalg.norm(topics, axis=1), np.linalg.norm(beta, axis=1)
    )
    rows, cols = linear_sum_assignment(-cos)
    assert cos[rows, cols].min() > 0.9
    # score is the bound after a fresh E-step: it cannot be far from the fit's ELBO.
    assert abs(lda.score(X) - lda.elbo_) < 1e-2 * abs(lda.elbo_)


def test_online_fit_learns_as_well_as_sklearn_online(corpus):
    X = corpus[0]
    ours = VariationalLDA(n_components=4, learning_method="online", batch_size=64, max_iter=10)
    sk = LatentDirichletAllocation(
        n_components=4, learning_method="online", batch_size=64, max_iter=10, random_state=0
    )
    ours.set_params(random_state=0).fit(X)
    sk.fit(X)
    assert ours.n_batch_iter_ == sk.n_batch_iter_
    assert ours.score(X) > sk.score(X) - 0.02 * abs(sk.score(X))
    assert len(ours.elbo_history_) == ours.n_iter_


def test_online_epochs_start_part_of_the_way_to_the_previous_gamma(corpus, monkeypatch):
    # From the second epoch on a document starts at 1 + w (gamma_prev - 1), w = 0.5;
    # reordered documents are matched to their own previous gamma.
    X = corpus[0]
    starts, ends = [], []
    e_step = estep_module.document_e_step

    def spy(X_batch, exp_t, alpha, gamma0, **kwargs):
        result = e_step(X_batch, exp_t, alpha, gamma0, **kwargs)
        starts.append(None if gamma0 is None else gamma0.copy())
        ends.append(result.gamma.copy())
        return result

    monkeypatch.setattr(lda_module, "document_e_step", spy)
    params = dict(n_components=4, learning_method="online", batch_size=100, tol=0.0)
    lda = VariationalLDA(max_iter=2, random_state=0, **params).fit(X)
    assert lda.n_iter_ == 2 and len(starts) == 6
    assert all(start is None for start in starts[:3])  # first epoch: from 1
    w = VariationalLDA._online_warm_weight
    assert 0 < w < 1
    # (online keeps the gammas in float32: they only seed the next start)
    assert lda._doc_topic_gamma.dtype == np.float32
    for start, end in zip(starts[3:], ends[:3], strict=True):
        assert_allclose(start, 1 + w * (end.astype(np.float32).astype(float) - 1), rtol=1e-12)
    # A warm start on the documents in reverse order starts each one from its own gamma.
    starts.clear()
    previous = lda._doc_topic_gamma.astype(float)
    lda.set_params(warm_start=True, max_iter=1).fit(X[::-1])
    assert_allclose(np.vstack(starts), 1 + w * (previous[::-1] - 1), rtol=1e-12)


def test_sparse_formats_are_never_densified(corpus, monkeypatch):
    X = corpus[0]
    dense_fit = VariationalLDA(n_components=3, max_iter=3, random_state=0).fit(X.toarray())
    expected = dense_fit.transform(X.toarray())

    def refuse(self, *args, **kwargs):
        raise AssertionError("a sparse matrix was densified")

    monkeypatch.setattr(sp._base._spbase, "toarray", refuse)
    monkeypatch.setattr(sp._base._spbase, "todense", refuse)
    for fmt in SPARSE_FORMATS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", sp.SparseEfficiencyWarning)
            Xs = X.asformat(fmt)
        lda = VariationalLDA(n_components=3, max_iter=3, random_state=0).fit(Xs)
        assert_allclose(lda.components_, dense_fit.components_, rtol=1e-10, err_msg=fmt)
        assert_allclose(lda.transform(Xs), expected, rtol=1e-10, err_msg=fmt)
    lda = VariationalLDA(n_components=3, max_iter=3, random_state=0).fit(sp.csr_array(X))
    assert_allclose(lda.components_, dense_fit.components_, rtol=1e-10)


def test_unsorted_indices_and_duplicates_are_fine_and_untouched(corpus):
    X = corpus[0].tocoo()
    # The same counts split into two duplicate entries each, in reversed order.
    half = X.data / 2
    messy = sp.coo_matrix(
        (np.r_[half, half][::-1], (np.r_[X.row, X.row][::-1], np.r_[X.col, X.col][::-1])),
        shape=X.shape,
    ).tocsr(copy=False)
    messy = sp.csr_matrix((messy.data, messy.indices, messy.indptr), shape=X.shape)
    messy.has_sorted_indices = False
    before = (messy.data.copy(), messy.indices.copy(), messy.indptr.copy())
    ref = VariationalLDA(n_components=3, max_iter=3, random_state=0).fit(X.tocsr())
    lda = VariationalLDA(n_components=3, max_iter=3, random_state=0).fit(messy)
    assert_allclose(lda.components_, ref.components_, rtol=1e-8)
    for a, b in zip(before, (messy.data, messy.indices, messy.indptr), strict=True):
        assert_array_equal(a, b)


def test_float32_stays_float32(corpus):
    X = corpus[0].astype(np.float32)
    lda = VariationalLDA(n_components=3, max_iter=5, random_state=0).fit(X)
    assert lda.components_.dtype == np.float32
    assert lda.exp_dirichlet_component_.dtype == np.float32
    assert lda.transform(X).dtype == np.float32
    assert_elbo_monotone(lda.elbo_history_)
    ref = VariationalLDA(n_components=3, max_iter=5, random_state=0).fit(X.astype(np.float64))
    assert_allclose(lda.transform(X), ref.transform(X), atol=2e-3)


@pytest.mark.parametrize("fmt", ["dense", "csr", "csc", "coo"])
def test_bad_input_names_the_problem_and_leaves_it_untouched(corpus, fmt):
    X = corpus[0].toarray()
    lda = VariationalLDA(n_components=3, max_iter=2, random_state=0).fit(X)
    as_fmt = (lambda A: A) if fmt == "dense" else (lambda A: sp.csr_matrix(A).asformat(fmt))

    negative = X.copy()
    negative[3, 5] = -1.0
    bad = as_fmt(negative)
    snapshot = bad.copy()
    with pytest.raises(ValueError, match="Negative values"):
        VariationalLDA(n_components=3).fit(bad)
    with pytest.raises(ValueError, match="Negative values"):
        lda.transform(bad)
    with pytest.raises(ValueError, match="Negative values"):
        VariationalLDA(n_components=3).partial_fit(bad)
    if fmt == "dense":
        assert_array_equal(bad, snapshot)
    else:
        assert_array_equal(bad.toarray(), snapshot.toarray())

    for value, message in [(np.nan, "NaN"), (np.inf, "infinity")]:
        corrupt = X.copy()
        corrupt[2, 3] = value
        with pytest.raises(ValueError, match=message):
            VariationalLDA(n_components=3).fit(as_fmt(corrupt))
        with pytest.raises(ValueError, match=message):
            lda.transform(as_fmt(corrupt))

    with pytest.raises(ValueError, match="features"):
        lda.transform(as_fmt(X[:, :-1]))
    with pytest.raises(ValueError, match="features"):
        lda.score(as_fmt(X[:, :-1]))


def test_empty_documents_and_predict(corpus):
    X = corpus[0].tolil()
    X[[0, 7], :] = 0
    X = X.tocsr()
    lda = VariationalLDA(n_components=3, max_iter=5, random_state=0).fit(X)
    proba = lda.transform(X)
    assert_allclose(proba.sum(axis=1), 1.0)
    assert_allclose(proba[0], 1.0 / 3)  # the symmetric prior's mean
    assert_array_equal(lda.predict(X), proba.argmax(axis=1))
    assert_array_equal(lda.predict_proba(X), proba)
    empty = sp.csr_matrix((4, X.shape[1]))
    assert_allclose(lda.transform(empty), 1.0 / 3)
    assert np.isfinite(lda.score(X))


def test_sample_weight_zero_equals_dropping_documents(corpus):
    X = corpus[0]
    weights = np.ones(X.shape[0])
    weights[::3] = 0.0
    kept = VariationalLDA(n_components=3, max_iter=4, random_state=0).fit(X[weights > 0])
    weighted = VariationalLDA(n_components=3, max_iter=4, random_state=0)
    weighted.fit(X, sample_weight=weights)
    assert_allclose(weighted.elbo_history_, kept.elbo_history_, rtol=1e-10)
    assert_allclose(weighted.components_, kept.components_, rtol=1e-10)


def test_warm_start_on_new_documents(corpus):
    X = corpus[0]
    lda = VariationalLDA(n_components=3, max_iter=3, random_state=0).fit(X[:200])
    before = lda.components_.copy()
    lda.set_params(warm_start=True).fit(X[100:])  # other and more documents
    assert lda.components_.shape == before.shape
    assert_elbo_monotone(lda.elbo_history_)
    # Documents seen before reuse their gammas; new ones start afresh.
    assert np.all(np.isfinite(lda._doc_topic_gamma))


@pytest.mark.parametrize("method", ["batch", "online"])
def test_optimize_priors_recovers_an_asymmetric_prior(method):
    alpha = np.array([0.05, 0.1, 0.2, 0.4, 0.8])
    X, _, beta = make_lda_corpus(
        800, 150, 5, doc_length=100, doc_topic_prior=alpha, topic_word_prior=0.05, random_state=1
    )
    lda = VariationalLDA(
        n_components=5,
        optimize_priors=True,
        learning_method=method,
        batch_size=200,
        max_iter=40,
        tol=1e-5,
        random_state=0,
    ).fit(X)
    topics = lda.components_ / lda.components_.sum(axis=1, keepdims=True)
    rows, cols = linear_sum_assignment(-(topics @ beta.T))
    learned = np.empty(5)
    learned[cols] = lda.doc_topic_prior_[rows]
    assert lda.doc_topic_prior_.shape == (5,)
    if method == "batch":
        assert_elbo_monotone(lda.elbo_history_)
        assert_allclose(learned, alpha, rtol=0.3)
        assert lda.topic_word_prior_ == pytest.approx(0.05, rel=0.3)
    else:  # stochastic: the order and the scale, not the values to 30%
        assert np.all(np.diff(learned) > 0)
        assert_allclose(learned, alpha, rtol=0.6)


def test_optimize_priors_warm_start_keeps_learned_priors(corpus):
    X = corpus[0]
    lda = VariationalLDA(n_components=3, optimize_priors=True, max_iter=5, random_state=0).fit(X)
    learned = lda.doc_topic_prior_.copy()
    once = VariationalLDA(n_components=3, optimize_priors=True, max_iter=10, random_state=0)
    once.fit(X)
    lda.set_params(warm_start=True).fit(X)
    assert not np.allclose(learned, lda.doc_topic_prior_)
    assert_allclose(lda.elbo_history_, once.elbo_history_[5:], rtol=1e-10)


def test_asymmetric_doc_topic_prior_parameter(corpus):
    X = corpus[0]
    lda = VariationalLDA(n_components=3, doc_topic_prior=[0.1, 0.2, 0.3], max_iter=3).fit(X)
    assert_allclose(lda.doc_topic_prior_, [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="doc_topic_prior"):
        VariationalLDA(n_components=3, doc_topic_prior=[0.1, 0.2]).fit(X)


def test_e_step_does_not_depend_on_the_block_layout(corpus):
    X = corpus[0].tocsr()
    K = 4
    lam = np.random.RandomState(0).gamma(100.0, 0.01, (K, X.shape[1]))
    exp_t = np.ascontiguousarray(exp_dirichlet_expectation(lam).T)
    gamma0 = np.ones((X.shape[0], K))
    results = [
        document_e_step(
            X, exp_t, np.full(K, 0.25), gamma0, max_iter=50, tol=1e-3, block_bytes=size
        )
        for size in (1, 10_000, 1 << 30)  # one document per block ... all in one block
    ]
    for other in results[1:]:
        assert_allclose(other.gamma, results[0].gamma, rtol=1e-12)
        assert_allclose(other.sstats_t, results[0].sstats_t, rtol=1e-12)
        assert_allclose(other.log_norm, results[0].log_norm, rtol=1e-12)
        assert other.doc_iterations == results[0].doc_iterations


def _reference_e_step(X, exp_t, alpha, gamma0, max_iter, tol, weights=None, gamma_keep=None):
    """scikit-learn's per-document loop (``_update_doc_distribution``), one document at a
    time, then the guard of ``document_e_step``: the fewest documents, largest gain
    first, go back to ``gamma_keep`` until the weighted total bound is at least theirs
    at ``gamma_keep``."""
    X = sp.csr_matrix(X)
    n_docs, K = X.shape[0], exp_t.shape[1]
    tiny = np.finfo(exp_t.dtype).tiny
    gamma = np.array(gamma0, dtype=float)
    log_norm = np.zeros(n_docs)
    iterations = 0
    done = []  # (d, ids, cnts, (g, e, norm, ln) new, the same at gamma_keep or None)
    for d in range(n_docs):
        if weights is not None and weights[d] <= 0:
            continue
        ids = X.indices[X.indptr[d] : X.indptr[d + 1]]
        cnts = X.data[X.indptr[d] : X.indptr[d + 1]]
        cols = exp_t[ids]
        g = gamma[d]
        e = exp_dirichlet_expectation(g[None])[0]
        for _ in range(max_iter):
            last = g
            g = alpha + e * ((cnts / (cols @ e + tiny)) @ cols)
            e = exp_dirichlet_expectation(g[None])[0]
            iterations += 1
            if np.mean(np.abs(g - last)) < tol:
                break
        norm = cols @ e + tiny
        old = None
        if gamma_keep is not None and not np.isnan(gamma_keep[d]).any():
            g_old = gamma_keep[d]
            e_old = exp_dirichlet_expectation(g_old[None])[0]
            norm_old = cols @ e_old + tiny
            old = (g_old, e_old, norm_old, float(cnts @ np.log(norm_old)))
        done.append((d, ids, cnts, (g, e, norm, float(cnts @ np.log(norm))), old))
    weight = {d: 1.0 if weights is None else weights[d] for d, *_ in done}
    bound = {}  # d -> (new, old) weighted bounds
    for d, _, _, new, old in done:
        if old is not None:
            bound[d] = [
                weight[d] * estep_module._doc_bound(v[0][None], alpha, np.array([v[3]]))[0]
                for v in (new, old)
            ]
    deficit = sum(old - new for new, old in bound.values())
    margin = estep_module.KEEP_MARGIN * max(abs(sum(new for new, _ in bound.values())), 1.0)
    back = set()
    if deficit > margin:
        for d in sorted(bound, key=lambda d: bound[d][0] - bound[d][1]):
            back.add(d)
            deficit -= bound[d][1] - bound[d][0]
            if deficit <= margin:
                break
    sstats_t = np.zeros((X.shape[1], K))
    for d, ids, cnts, new, old in done:
        g, e, norm, ln = old if d in back else new
        gamma[d], log_norm[d] = g, ln
        np.add.at(sstats_t, ids, weight[d] * np.outer(cnts / norm, e))
    return gamma, sstats_t, log_norm, iterations, len(back)


def _spy(monkeypatch, owner, name, note):
    """Replace the method ``owner.name`` by one that calls ``note`` with its arguments
    first."""
    method = getattr(owner, name)

    def spied(*args, **kwargs):
        note(*args, **kwargs)
        return method(*args, **kwargs)

    monkeypatch.setattr(owner, name, spied)


@pytest.fixture(scope="module")
def ragged():
    """Documents of very different lengths (1 to ~150 distinct words, some empty), each
    mostly about one topic, a previous gamma for each (NaN for two), weights with zeros,
    topics."""
    rng = np.random.RandomState(3)
    n_docs, V, K = 90, 240, 6
    lengths = np.r_[0, 0, rng.randint(1, 8, 30), rng.randint(20, 40, 40), rng.randint(90, 150, 18)]
    rng.shuffle(lengths)
    rows = np.repeat(np.arange(n_docs), lengths)
    # Word blocks of V / K words per topic; 90% of a document's words from its topic.
    own = (rows % K) * (V // K) + rng.randint(0, V // K, rows.size)
    cols = np.where(rng.uniform(size=rows.size) < 0.9, own, rng.randint(0, V, rows.size))
    X = sp.csr_matrix(
        (rng.randint(1, 4, rows.size).astype(float), (rows, cols)), shape=(n_docs, V)
    )
    lam = rng.gamma(1.0, 1.0, (K, V)) + 0.05
    lam[np.arange(V) // (V // K), np.arange(V)] += 20.0
    exp_t = np.ascontiguousarray(exp_dirichlet_expectation(lam).T)
    alpha = np.linspace(0.1, 0.4, K)
    # Previous gammas: converged ones (which the guard keeps against a short iteration)
    # for half of the documents, random ones for the others, NaN (none) for two.
    keep = document_e_step(X, exp_t, alpha, None, max_iter=5000, tol=1e-12).gamma
    keep[1::2] = rng.gamma(2.0, 3.0, (n_docs // 2, K))
    keep[[4, 41]] = np.nan
    weights = rng.uniform(0.5, 2.0, n_docs)
    weights[::7] = 0.0
    return X, exp_t, alpha, keep, weights


@pytest.mark.parametrize("max_iter", [0, 3, 60])
@pytest.mark.parametrize("block_bytes", [1, 2_000, 20_000, 1 << 30])
@pytest.mark.parametrize("alpha_scale", [1.0, 0.02])
@pytest.mark.parametrize("live_topics", [0, 3])
def test_working_set_e_step_matches_the_per_document_loop(
    ragged, max_iter, block_bytes, alpha_scale, live_topics, monkeypatch
):
    # Slots refilled, compacted and widened in every pattern (one slot ... all
    # documents at once) give each document scikit-learn's iterates; with a small prior
    # most entries reach gamma = alpha exactly and skip the digamma, and documents with
    # at most ``live_topics`` topics off alpha iterate on those only.
    X, exp_t, alpha, keep, weights = ragged
    monkeypatch.setattr(estep_module, "COMPACT_MIN_DOCS", 0)
    migrated = []
    note = lambda _, cs, ws, slots: migrated.append(slots.size)  # noqa: E731
    _spy(monkeypatch, estep_module._EStep, "migrate", note)
    alpha = alpha * alpha_scale
    rng = np.random.RandomState(max_iter)
    gamma0 = rng.gamma(100.0, 0.01, keep.shape)
    for w, guard in [(None, None), (weights, keep)]:
        ref = _reference_e_step(X, exp_t, alpha, gamma0, max_iter, 1e-3, w, guard)
        got = document_e_step(
            X,
            exp_t,
            alpha,
            gamma0,
            max_iter=max_iter,
            tol=1e-3,
            weights=w,
            gamma_keep=guard,
            block_bytes=block_bytes,
            live_topics=live_topics,
        )
        assert_allclose(got.gamma, ref[0], rtol=1e-10)
        # Reverted documents' statistics are subtracted again: rounding of their size.
        assert_allclose(got.sstats_t, ref[1], rtol=1e-10, atol=1e-14 * np.abs(ref[1]).max())
        assert_allclose(got.log_norm, ref[2], rtol=1e-10, atol=1e-12)
        assert (got.doc_iterations, got.n_kept) == ref[3:]
        if guard is not None and max_iter == 0:  # the guard was exercised
            assert 0 < ref[4] < (weights > 0).sum()
    # The compact set was used where topics die (not at all without iterations).
    assert (sum(migrated) > 20) == (live_topics > 0 and alpha_scale < 1 and max_iter == 60)


def test_working_set_widens_in_its_own_buffers(ragged, monkeypatch):
    # Lengths 1-150 through a working set of a few documents: it widens several times,
    # each time re-laid out in place (one set per E-step, never two at once), with the
    # per-document loop's result.
    X, exp_t, alpha, _, _ = ragged
    created, widened = [], []
    _spy(monkeypatch, estep_module._WorkingSet, "__init__", lambda *a, **k: created.append(1))
    _spy(monkeypatch, estep_module._WorkingSet, "widened", lambda *a, **k: widened.append(1))
    gamma0 = np.ones((X.shape[0], exp_t.shape[1]))
    got = document_e_step(X, exp_t, alpha, None, max_iter=60, tol=1e-3, block_bytes=20_000)
    ref = _reference_e_step(X, exp_t, alpha, gamma0, 60, 1e-3)
    assert_allclose(got.gamma, ref[0], rtol=1e-10)
    assert len(widened) >= 3 and len(created) == 1


def test_working_set_budget_follows_the_fit_size(monkeypatch):
    # The E-step's budget is at most three quarters of the largest of K x V, n_docs x K
    # and the counts' values (a small fit), and BLOCK_BYTES at most (a large one).
    budgets = []
    e_step = estep_module.document_e_step

    def spy(*args, block_bytes, **kwargs):
        budgets.append(block_bytes)
        return e_step(*args, block_bytes=block_bytes, **kwargs)

    monkeypatch.setattr(lda_module, "document_e_step", spy)
    X, _, _ = make_lda_corpus(300, 400, 5, doc_length=30, random_state=0)
    for method in ("batch", "online"):
        VariationalLDA(n_components=5, learning_method=method, max_iter=1, tol=0).fit(X)
    largest = max(5 * 400, 300 * 5, X.nnz) * 8
    assert budgets and all(b == largest * 3 // 4 for b in budgets)
    monkeypatch.setattr(lda_module, "BLOCK_BYTES", 1000)
    VariationalLDA(n_components=5, max_iter=1, tol=0).fit(X)
    assert budgets[-1] == 1000


@pytest.mark.parametrize("dead_margin", [estep_module.DEAD_MARGIN, 0.0])
def test_compact_documents_revive_dead_topics_exactly(dead_margin, monkeypatch):
    # Word 0 is topic 0's; word 1 is topic 2's, and topic 1's by 1e-28 only. Documents
    # start far up on topic 1 (gamma 1e6), which still explains word 1 in the first
    # update; after it, topics 0 and 1 are live and the documents move to the compact
    # set, where topic 2 (at alpha, exp(psi(alpha)) ~ 2e-44) comes back to life: more
    # live topics than the set holds. The result is still the per-document loop's.
    # With a margin of 0 every compact update is the full one.
    monkeypatch.setattr(estep_module, "DEAD_MARGIN", dead_margin)
    monkeypatch.setattr(estep_module, "COMPACT_MIN_DOCS", 0)
    grown = []
    _spy(
        monkeypatch,
        estep_module._CompactSet,
        "widened",
        lambda _, slots, width, n_live=None: grown.append(n_live),
    )
    K, n_docs = 6, 30
    exp_t = np.zeros((2, K))
    exp_t[0, 0], exp_t[1, 1], exp_t[1, 2] = 0.1, 1e-28, 0.12
    counts = np.c_[np.arange(1, n_docs + 1), np.arange(n_docs) % 3 + 1].astype(float)
    X = sp.csr_matrix(counts)
    alpha = np.full(K, 0.01)
    gamma0 = np.tile(alpha, (n_docs, 1))
    gamma0[:, :2] = [5.0, 1e6]
    ref = _reference_e_step(X, exp_t, alpha, gamma0, 100, 1e-3)
    got = document_e_step(X, exp_t, alpha, gamma0, max_iter=100, tol=1e-3, live_topics=2)
    assert_allclose(got.gamma, ref[0], rtol=1e-10)
    assert_allclose(got.sstats_t, ref[1], rtol=1e-10, atol=1e-14 * np.abs(ref[1]).max())
    assert_allclose(got.log_norm, ref[2], rtol=1e-10, atol=1e-12)
    assert got.doc_iterations == ref[3]
    assert np.all(ref[0][:, 2] != alpha[2])  # revived
    assert grown and max(n for n in grown if n is not None) == 3


@pytest.mark.parametrize("weighted", [False, True])
def test_guard_keeps_the_previous_bound_and_reverts_few_documents(ragged, weighted):
    # The E-step's total bound is at least the previous gammas' (so a batch sweep cannot
    # lower the ELBO), and fewer documents go back than a guard per document would send.
    # No iteration (the start at 1 is final): worse than the converged half of ``keep``,
    # better than its random half.
    X, exp_t, alpha, keep, weights = ragged
    if not weighted:
        weights = np.ones(X.shape[0])
    common = dict(max_iter=0, tol=1e-3, weights=weights)
    got = document_e_step(X, exp_t, alpha, None, gamma_keep=keep, **common)
    fresh = document_e_step(X, exp_t, alpha, None, **common)
    previous = np.where(np.isnan(keep), 1.0, keep)
    at_keep = document_e_step(X, exp_t, alpha, previous, **common)
    seen = (weights > 0) & ~np.isnan(keep[:, 0])

    def bounds(result):
        return weights[seen] * estep_module._doc_bound(
            result.gamma[seen], alpha, result.log_norm[seen]
        )

    assert bounds(fresh).sum() < bounds(at_keep).sum()  # the guard has work to do
    assert bounds(got).sum() >= bounds(at_keep).sum() - 1e-12 * abs(bounds(at_keep).sum())
    assert 0 < got.n_kept < np.count_nonzero(bounds(at_keep) > bounds(fresh))
    assert np.count_nonzero(np.any(got.gamma != fresh.gamma, axis=1)) == got.n_kept


@pytest.mark.parametrize("max_iter", [0, 3, 60])
@pytest.mark.parametrize("warm_weight", [0.0, 0.3])
@pytest.mark.parametrize("weighted", [False, True])
def test_e_step_writing_over_the_previous_gammas_gives_the_same_result(
    ragged, max_iter, warm_weight, weighted
):
    # overwrite_keep=True: one (n_docs, K) array (plus the previous rows the guard may
    # need), the same numbers; reverted documents (max_iter=0) included.
    X, exp_t, alpha, keep, weights = ragged
    common = dict(
        max_iter=max_iter, tol=1e-3, weights=weights if weighted else None, warm_weight=warm_weight
    )
    ref = document_e_step(X, exp_t, alpha, None, gamma_keep=keep, **common)
    own = keep.copy()
    got = document_e_step(X, exp_t, alpha, None, gamma_keep=own, overwrite_keep=True, **common)
    assert got.gamma is own
    assert_array_equal(got.gamma, ref.gamma)
    assert_array_equal(got.sstats_t, ref.sstats_t)
    assert_array_equal(got.log_norm, ref.log_norm)
    assert (got.doc_iterations, got.n_kept) == (ref.doc_iterations, ref.n_kept)
    if max_iter == 0:
        assert got.n_kept > 0
    # An array it cannot write into is left alone (and copied).
    frozen = keep.copy()
    frozen.flags.writeable = False
    got = document_e_step(X, exp_t, alpha, None, gamma_keep=frozen, overwrite_keep=True, **common)
    assert_array_equal(got.gamma, ref.gamma)
    assert_array_equal(frozen, keep)


def test_statistics_do_not_depend_on_their_batches(ragged, monkeypatch):
    X, exp_t, alpha, keep, weights = ragged
    common = dict(max_iter=20, tol=1e-3, weights=weights, gamma_keep=keep, block_bytes=4_000)
    once = document_e_step(X, exp_t, alpha, None, **common)
    monkeypatch.setattr(estep_module._Statistics, "max_batch", 1)  # a batch every ~V words
    flushes = []
    flush = estep_module._Statistics.flush
    monkeypatch.setattr(
        estep_module._Statistics, "flush", lambda self: flushes.append(1) or flush(self)
    )
    batched = document_e_step(X, exp_t, alpha, None, **common)
    assert len(flushes) > 5
    assert_allclose(batched.sstats_t, once.sstats_t, rtol=1e-12, atol=1e-15)
    assert_array_equal(batched.gamma, once.gamma)


def test_partial_restart_starts_between_one_and_the_previous_gamma(ragged):
    X, exp_t, alpha, keep, _ = ragged
    common = dict(max_iter=50, tol=1e-3, gamma_keep=keep)
    start = 1.0 + 0.3 * (keep - 1.0)
    start[np.isnan(start)] = 1.0
    partial = document_e_step(X, exp_t, alpha, None, warm_weight=0.3, **common)
    explicit = document_e_step(X, exp_t, alpha, start, **common)
    assert_array_equal(partial.gamma, explicit.gamma)
    assert partial.doc_iterations == explicit.doc_iterations
    ones = document_e_step(X, exp_t, alpha, np.ones_like(keep), **common)
    zero = document_e_step(X, exp_t, alpha, None, warm_weight=0.0, **common)
    assert_array_equal(zero.gamma, ones.gamma)


@pytest.mark.parametrize("warm_weight", [0.0, 0.2, 0.9])
def test_batch_elbo_is_monotone_for_any_partial_restart(corpus, monkeypatch, warm_weight):
    X = corpus[0]
    monkeypatch.setattr(VariationalLDA, "_warm_weight", warm_weight)
    seen = []
    e_step = estep_module.document_e_step

    def spy(*args, **kwargs):
        seen.append((kwargs.get("warm_weight"), kwargs.get("gamma_keep") is not None))
        return e_step(*args, **kwargs)

    monkeypatch.setattr(lda_module, "document_e_step", spy)
    lda = VariationalLDA(n_components=4, max_iter=15, tol=0.0, random_state=0).fit(X)
    assert_elbo_monotone(lda.elbo_history_)
    # The first sweep starts at 1 (nothing to keep); every later one partially restarts.
    assert seen[0][1] is False
    assert all(entry == (warm_weight, True) for entry in seen[1 : lda.n_iter_])


def test_pickle_fit_transform_feature_names(corpus):
    X = corpus[0]
    lda = VariationalLDA(n_components=3, max_iter=3, random_state=0)
    doc_topic = lda.fit_transform(X)
    restored = pickle.loads(pickle.dumps(lda))
    assert_array_equal(restored.transform(X), doc_topic)
    assert list(lda.get_feature_names_out()) == [f"variationallda{i}" for i in range(3)]


def test_datasets_are_deterministic():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a, b = load_stdlib_docstrings(), load_stdlib_docstrings()
    assert a.data.shape[0] > 500 and a.data.shape[1] > 500
    assert (a.data != b.data).nnz == 0
    assert_array_equal(a.feature_names, b.feature_names)
    assert a.data.data.min() >= 1 and np.all(np.asarray(a.data.sum(axis=1)) >= 10)
    X, theta, beta = make_lda_corpus(50, 30, 3, doc_length=20, random_state=0)
    X2, _, _ = make_lda_corpus(50, 30, 3, doc_length=20, random_state=0)
    assert (X != X2).nnz == 0
    assert_allclose(theta.sum(axis=1), 1.0)
    assert_allclose(beta.sum(axis=1), 1.0)


def test_perplexity_of_empty_documents_names_the_problem():
    X = np.random.RandomState(0).poisson(2.0, size=(20, 10)).astype(float)
    lda = VariationalLDA(n_components=2, random_state=0).fit(X)
    with pytest.raises(ValueError, match="every document is empty"):
        lda.perplexity(np.zeros((3, 10)))
    assert np.isfinite(lda.score(np.zeros((3, 10))))


def test_scikit_learns_perplexity_test_is_honoured():
    X = np.random.RandomState(0).poisson(2.0, size=(60, 12)).astype(float)
    common = dict(n_components=3, tol=0.0, max_iter=30, random_state=0)
    full = VariationalLDA(**common).fit(X)
    assert full.n_iter_ == 30
    # A loose perplexity tolerance, tested every 2 sweeps, stops at the first test (4).
    stopped = VariationalLDA(**common, evaluate_every=2, perp_tol=1e6).fit(X)
    assert stopped.n_iter_ == 4 and stopped.converged_
    assert_allclose(stopped.elbo_history_, full.elbo_history_[:4])
    # A tight one lets tol (0 here) and max_iter decide, as scikit-learn's would.
    tight = VariationalLDA(**common, evaluate_every=2, perp_tol=0.0).fit(X)
    assert tight.n_iter_ == 30
    # scikit-learn's signature, passed as is.
    params = LatentDirichletAllocation(n_components=3, evaluate_every=5).get_params()
    assert VariationalLDA(**params).fit(X).evaluate_every == 5


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_add_rows_adds_scaled_rows_in_place(dtype):
    rng = np.random.RandomState(0)
    out = rng.uniform(size=(50, 7)).astype(dtype)
    rows = np.array([0, 3, 4, 17, 49])
    values = rng.uniform(size=(5, 7)).astype(dtype)
    expected = out.copy()
    expected[rows] += dtype(2.5) * values
    stored_transposed = out.T  # as the online ELBO cache keeps its (K, V) statistics
    estep_module.add_rows(stored_transposed.T, rows, values, 2.5)
    assert_allclose(out, expected, rtol=1e-6 if dtype == np.float32 else 1e-15)
    assert out.dtype == dtype
