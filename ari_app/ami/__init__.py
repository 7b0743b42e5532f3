"""The only package that imports panoramisk (AMI), used where ARI has no equivalent."""
