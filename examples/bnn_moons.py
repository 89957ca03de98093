"""The classic PyMC3 Bayesian neural network tutorial, line by line with credo.

Each credo line is preceded by the PyMC3 line it replaces (``# pm: ...``);
lines without a comment are the same in both. The tutorial is Thomas Wiecki's
"Bayesian deep learning" (twiecki.io, 2016) as reproduced in the PyMC3 docs.

Run it with ``python examples/bnn_moons.py``; the figures are written to
``bnn_moons_*.png`` in the current folder. ``credo demo moons`` runs the same
workflow with timings.
"""

# pm: %matplotlib inline
# pm: import theano
# pm: import pymc3 as pm
import credo as cr
# pm: import sklearn
import numpy as np
import matplotlib
matplotlib.use("Agg")  # (credo) write PNG files instead of showing the figures inline
import matplotlib.pyplot as plt
# pm: import seaborn as sns
# pm: from warnings import filterwarnings
# pm: filterwarnings('ignore')
# pm: sns.set_style('white')
# pm: from sklearn import datasets
from sklearn.preprocessing import scale
# pm: from sklearn.cross_validation import train_test_split
from sklearn.model_selection import train_test_split   # (sklearn moved it)
from sklearn.datasets import make_moons

# --- 1. A non-linearly separable binary classification data set ------------------

X, Y = make_moons(noise=0.2, random_state=0, n_samples=1000)
X = scale(X)
X = X.astype(float)
Y = Y.astype(float)
X_train, X_test, Y_train, Y_test = train_test_split(X, Y, test_size=.5)
fig, ax = plt.subplots(figsize=(12, 8))
ax.scatter(X[Y == 0, 0], X[Y == 0, 1], label='Class 0')
ax.scatter(X[Y == 1, 0], X[Y == 1, 1], color='r', label='Class 1')
# pm: sns.despine(); ax.legend()
ax.legend()
ax.set(xlabel='X', ylabel='Y', title='Toy binary classification data set')
fig.savefig("bnn_moons_data.png")  # (credo) instead of the notebook's inline figure


# --- 2. The model: 2 hidden layers of 5 tanh units, N(0, 1) weights ---------------

# pm: def construct_nn(ann_input, ann_output):
def construct_nn(X_train, Y_train):
    n_hidden = 5

    # Initialize random weights between each layer
    init_1 = np.random.randn(X.shape[1], n_hidden).astype(float)
    init_2 = np.random.randn(n_hidden, n_hidden).astype(float)
    init_out = np.random.randn(n_hidden).astype(float)

    # pm: with pm.Model() as neural_network:
    with cr.Model() as neural_network:
        # Trick: the inputs and outputs are Data containers: their values can be
        # replaced later (to switch in the test data) and credo will just use the
        # new data, as theano.shared variables did for PyMC3.
        # pm: ann_input = theano.shared(X_train)      (outside the model)
        ann_input = cr.Data("ann_input", X_train)
        # pm: ann_output = theano.shared(Y_train)     (outside the model)
        ann_output = cr.Data("ann_output", Y_train)

        # Weights from input to hidden layer
        # pm: weights_in_1 = pm.Normal('w_in_1', 0, sd=1,
        weights_in_1 = cr.Normal('w_in_1', 0, sd=1,
                                 shape=(X.shape[1], n_hidden),
                                 testval=init_1)

        # Weights from 1st to 2nd layer
        # pm: weights_1_2 = pm.Normal('w_1_2', 0, sd=1,
        weights_1_2 = cr.Normal('w_1_2', 0, sd=1,
                                shape=(n_hidden, n_hidden),
                                testval=init_2)

        # Weights from hidden layer to output
        # pm: weights_2_out = pm.Normal('w_2_out', 0, sd=1,
        weights_2_out = cr.Normal('w_2_out', 0, sd=1,
                                  shape=(n_hidden,),
                                  testval=init_out)

        # Build neural-network using tanh activation function
        # pm: act_1 = pm.math.tanh(pm.math.dot(ann_input, weights_in_1))
        act_1 = cr.math.tanh(cr.math.dot(ann_input, weights_in_1))
        # pm: act_2 = pm.math.tanh(pm.math.dot(act_1, weights_1_2))
        act_2 = cr.math.tanh(cr.math.dot(act_1, weights_1_2))
        # pm: act_out = pm.math.sigmoid(pm.math.dot(act_2, weights_2_out))
        act_out = cr.math.sigmoid(cr.math.dot(act_2, weights_2_out))

        # Binary classification -> Bernoulli likelihood
        # pm: out = pm.Bernoulli('out',
        out = cr.Bernoulli('out',
                           act_out,
                           observed=ann_output,
                           total_size=Y_train.shape[0]  # IMPORTANT for minibatches
                           )
    return neural_network


# pm: ann_input = theano.shared(X_train)
# pm: ann_output = theano.shared(Y_train)
# pm: neural_network = construct_nn(ann_input, ann_output)
neural_network = construct_nn(X_train, Y_train)


# --- 3. Variational inference: mean-field ADVI ---------------------------------------

# pm: from pymc3.theanof import set_tt_rng, MRG_RandomStreams
# pm: set_tt_rng(MRG_RandomStreams(42))

with neural_network:
    # pm: inference = pm.ADVI()
    inference = cr.ADVI()
    # pm: approx = pm.fit(n=50000, method=inference)
    approx = cr.fit(n=50000, method=inference, random_seed=42)

# pm: trace = approx.sample(draws=5000)
trace = approx.sample(draws=5000, random_seed=1)
# pm: plt.plot(-inference.hist)
fig, ax = plt.subplots()
ax.plot(-inference.hist)
# pm: plt.ylabel('ELBO')
ax.set_ylabel('ELBO')
# pm: plt.xlabel('iteration')
ax.set_xlabel('iteration')
fig.savefig("bnn_moons_elbo.png")


# --- 4. Predict the held-out test set with a posterior predictive check --------------

# Replace arrays our NN references with the test data
with neural_network:
    # pm: ann_input.set_value(X_test)
    # pm: ann_output.set_value(Y_test)
    cr.set_data({"ann_input": X_test, "ann_output": Y_test})

with neural_network:
    # pm: ppc = pm.sample_ppc(trace, samples=500, progressbar=False)
    ppc = cr.sample_posterior_predictive(trace, samples=500, random_seed=2)

# Use probability of > 0.5 to assume prediction of class 1
# pm: pred = ppc['out'].mean(axis=0) > 0.5
pred = ppc.posterior_predictive['out'].mean(("chain", "draw")).values > 0.5
fig, ax = plt.subplots()
ax.scatter(X_test[pred == 0, 0], X_test[pred == 0, 1])
ax.scatter(X_test[pred == 1, 0], X_test[pred == 1, 1], color='r')
# pm: sns.despine()
ax.set(title='Predicted labels in testing set', xlabel='X', ylabel='Y')
fig.savefig("bnn_moons_predicted_labels.png")
print('Accuracy = {}%'.format((Y_test == pred).mean() * 100))


# --- 5. What the classifier has learned: the predictive over a grid -----------------

# pm: grid = pm.floatX(np.mgrid[-3:3:100j, -3:3:100j])
grid = np.mgrid[-3:3:100j, -3:3:100j]
grid_2d = grid.reshape(2, -1).T
# pm: dummy_out = np.ones(grid.shape[1], dtype=np.int8)
#     (credo needs no dummy targets: the predictive follows the new inputs' length)

with neural_network:
    # pm: ann_input.set_value(grid_2d)
    # pm: ann_output.set_value(dummy_out)
    cr.set_data({"ann_input": grid_2d})
    # pm: ppc = pm.sample_ppc(trace, samples=500, progressbar=False)
    ppc = cr.sample_posterior_predictive(trace, samples=500, random_seed=3)
# pm: ppc['out']  (500, 10000)
grid_draws = ppc.posterior_predictive['out'].values.reshape(500, -1)

# Probability surface
# pm: cmap = sns.diverging_palette(250, 12, s=85, l=25, as_cmap=True)
cmap = "coolwarm"
fig, ax = plt.subplots(figsize=(16, 9))
# pm: contour = ax.contourf(grid[0], grid[1], ppc['out'].mean(axis=0).reshape(100, 100), cmap=cmap)
contour = ax.contourf(grid[0], grid[1], grid_draws.mean(axis=0).reshape(100, 100), cmap=cmap)
ax.scatter(X_test[pred == 0, 0], X_test[pred == 0, 1])
ax.scatter(X_test[pred == 1, 0], X_test[pred == 1, 1], color='r')
cbar = plt.colorbar(contour, ax=ax)
_ = ax.set(xlim=(-3, 3), ylim=(-3, 3), xlabel='X', ylabel='Y')
cbar.ax.set_ylabel('Posterior predictive mean probability of class label = 1')
fig.savefig("bnn_moons_probability_surface.png")

# Uncertainty in predicted value
# pm: cmap = sns.cubehelix_palette(light=1, as_cmap=True)
cmap = "viridis"
fig, ax = plt.subplots(figsize=(16, 9))
# pm: contour = ax.contourf(grid[0], grid[1], ppc['out'].std(axis=0).reshape(100, 100), cmap=cmap)
contour = ax.contourf(grid[0], grid[1], grid_draws.std(axis=0).reshape(100, 100), cmap=cmap)
ax.scatter(X_test[pred == 0, 0], X_test[pred == 0, 1])
ax.scatter(X_test[pred == 1, 0], X_test[pred == 1, 1], color='r')
cbar = plt.colorbar(contour, ax=ax)
_ = ax.set(xlim=(-3, 3), ylim=(-3, 3), xlabel='X', ylabel='Y')
cbar.ax.set_ylabel('Uncertainty (std of the posterior predictive draws of the class label)')
fig.savefig("bnn_moons_uncertainty.png")
