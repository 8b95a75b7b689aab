"""VTK, the peer our meshing is checked and timed against: a label map (numpy, x fastest in
VTK's order) as vtkImageData, and a discrete contour filter with one contour per label."""
import numpy as np
import vtk
from vtk.util import numpy_support as ns


def vtk_image(data, dtype=np.int16):
    """@data (a 3D numpy array of labels) as vtkImageData of @dtype, voxel (i, j, k) at point (i, j, k)."""
    img = vtk.vtkImageData()
    img.SetDimensions(*data.shape)
    arr = ns.numpy_to_vtk(np.ascontiguousarray(data.ravel(order="F")).astype(dtype), deep=1)
    img.GetPointData().SetScalars(arr)
    return img


def nonzero_labels(data):
    """The labels of @data other than 0, sorted."""
    labels = np.unique(data)
    return labels[labels != 0]


def discrete_contours(cls, img, labels):
    """A @cls filter (vtkDiscreteMarchingCubes, vtkDiscreteFlyingEdges3D) on @img with one
    contour for each of @labels (not yet run)."""
    f = cls()
    f.SetInputData(img)
    f.SetNumberOfContours(len(labels))
    for i, l in enumerate(labels):
        f.SetValue(i, int(l))
    return f
