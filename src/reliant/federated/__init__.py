"""Federated learning on Flower, Byzantine-robust aggregation, and CGI (Wei et al., arXiv 2309.07415).

Import from :mod:`reliant.federated.api`. Inside: ``aggregators`` (the rule registry, plain
torch), ``attacks/cgi`` (malicious model, stealthy blending), ``privacy`` (central DP: Flower's
DP wrappers mirrored in torch), ``inversion`` (Inverting Gradients, DLG), ``metrics``
(MSE/PSNR/SSIM), ``models``, ``inputs`` (data sets, IID/Dirichlet splits), ``federation``
(client/server code and the in-process engine), ``simulation`` (the only module importing
Flower), ``report``, and ``config`` / ``workflows`` / ``cli``.
"""
