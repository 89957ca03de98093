"""The tutorial's data, as every peer script loads it: make_moons (1,000 points,
noise 0.2), scaled, split in half with random_state 0."""


def load_data():
    from sklearn.datasets import make_moons
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import scale

    X, Y = make_moons(noise=0.2, random_state=0, n_samples=1000)
    X = scale(X)
    return train_test_split(X.astype(float), Y.astype(float), test_size=0.5, random_state=0)
