"""Tour section: VariationalGMM beside BayesianGaussianMixture on the iris measurements.

Both fit a 10-component Dirichlet-process mixture with full covariances to 70% of the
standardised iris flowers (species labels unused) with the same settings. The score is
the held-out mean log-likelihood per flower: the log posterior predictive (a Student-t
mixture) for skvi, scikit-learn's plug-in Gaussian mixture density for the peer.
"""

import os
import warnings

import numpy as np
from sklearn.datasets import load_iris
from sklearn.decomposition import PCA
from sklearn.metrics import adjusted_rand_score
from sklearn.mixture import BayesianGaussianMixture
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from ..mixture import VariationalGMM
from . import TourRow, timed

PARAMS = dict(n_components=10, covariance_type="full", n_init=5, max_iter=500, random_state=0)


def run(plot_dir):
    """Fit both estimators on iris; return the tour row (and save a figure)."""
    X, species = load_iris(return_X_y=True)
    X_train, X_test, _, species_test = train_test_split(
        X, species, test_size=0.3, random_state=0, stratify=species
    )
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours, seconds = timed(VariationalGMM(**PARAMS).fit, X_train)
        peer, peer_seconds = timed(BayesianGaussianMixture(**PARAMS).fit, X_train)
    peer_active = int(np.sum(peer.weights_ * len(X_train) >= 1.0))
    row = TourRow(
        estimator="VariationalGMM",
        dataset="iris (standardised, 30% held out)",
        elbo=ours.elbo_,
        sweeps=ours.n_iter_,
        seconds=seconds,
        score_name="held-out log-lik/sample",
        score=ours.score(X_test),
        peer="BayesianGaussianMixture",
        peer_score=peer.score(X_test),
        peer_seconds=peer_seconds,
    )
    row.notes.append(
        f"a 10-component Dirichlet process kept {ours.n_active_components_} active "
        f"components (expected training count >= 1; the peer's weights keep {peer_active}); "
        "iris has 3 species. Adjusted Rand index of the held-out components against the "
        f"species: {adjusted_rand_score(species_test, ours.predict(X_test)):.2f} "
        f"(peer {adjusted_rand_score(species_test, peer.predict(X_test)):.2f}). "
        "skvi scores with the posterior predictive (Student-t mixture, integrates to 1), "
        "the peer with its plug-in density."
    )
    if plot_dir is not None:
        row.figures.append(_plot(ours, X_train, X_test, plot_dir))
    return row


def _plot(gmm, X_train, X_test, plot_dir):
    import matplotlib.pyplot as plt

    pca = PCA(n_components=2).fit(X_train)
    Z = pca.transform(X_test)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.scatter(Z[:, 0], Z[:, 1], c=gmm.predict(X_test), cmap="tab10", vmin=0, vmax=9, s=25)
    ax1.set_title("held-out iris flowers, coloured by component")
    ax1.set_xlabel("PC 1")
    ax1.set_ylabel("PC 2")
    counts = gmm.mean_precision_ - gmm.mean_precision_prior_
    ax2.bar(np.arange(gmm.n_components), counts, color="tab:blue")
    ax2.axhline(1.0, color="k", lw=0.8, ls="--")
    ax2.set_yscale("symlog", linthresh=1.0)
    ax2.set_title(f"expected samples per component ({gmm.n_active_components_} active)")
    ax2.set_xlabel("component")
    fig.tight_layout()
    path = os.path.join(plot_dir, "gmm_iris.png")
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
