"""Clinical input: DICOM studies (and NIfTI volumes) to MRNet's three uint8 volumes.

No HTTP here. `read_study` takes the uploaded parts (bytes with a name: a STOW-RS
part number or an archive member), reads them with pydicom, groups and screens
the series, chooses one per plane by the selection rules and returns the
volumes in the radiological view of their plane, with a report of what was used
and what was not (and why).
"""
