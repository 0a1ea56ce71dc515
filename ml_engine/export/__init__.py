"""Exports users take away: label sets in the formats their tools read, and verified models.

Import from the modules (the label writers do not import torch, so the web app can export
labels without loading it):

=====================================  ===============================================================
``label_rows``                         :class:`LabelRow` (one face), ``ExportSummary``, validation,
                                       ``safe_file_name``
``label_export``                       ``write_labels_csv``, ``write_labels_jsonl``, ``LabelFile``
                                       (streaming reader of both, for the round trip)
``image_folder_zip``                   ``write_image_folder_zip`` (``<class>/<file>``, unlabeled left out)
``ferplus_export``                     ``write_ferplus_label_csv`` (headerless FERPlus ``label.csv``),
                                       ``write_ferplus_zip`` (split folders of images, a label.csv each)
``label_studio``                       ``write_label_studio_zip`` (Label Studio tasks, answers, predictions)
``hf_imagefolder``                     ``write_hf_imagefolder_zip`` (``datasets`` ImageFolder with metadata)
``bundle``                             ``export_checkpoint``: checkpoint -> pytorch / torchscript / onnx
                                       files, each verified, plus the model card; ``zip_model_export``
``model_export``                       ``export_model`` for one format, ``sample_faces``
``model_verification``                 ``verify_export`` (re-check a file later), ``ExportVerificationError``
``model_card``                         ``TrainingProvenance``, ``build_model_card``, ``write_model_card``
=====================================  ===============================================================

Every writer puts its file in place atomically (:mod:`ml_engine.atomic_write`) and takes an optional
``progress`` callback and ``cancel`` flag, so the web app can run large exports as jobs.
"""
